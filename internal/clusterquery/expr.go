package clusterquery

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
)

// Expr is a parsed expression.
type Expr interface {
	// Eval reports whether the instance s satisfies the expression.
	Eval(s Subject) bool
	// String returns the canonical form, which Parse reads back to an
	// equal Expr.
	String() string
	expr()
}

// And holds when both sides do.
type And struct{ L, R Expr }

// Or holds when either side does.
type Or struct{ L, R Expr }

// Not holds when X does not.
type Not struct{ X Expr }

// Cond is one comparison: Field Op Values.
type Cond struct {
	Field Field
	Op    Op
	// Values holds the argument: none for exists and not_exists, the list
	// for in and not_in, one value otherwise.
	Values []string

	re *regexp.Regexp // compiled Values[0] for =~ and !~
}

func (*And) expr()  {}
func (*Or) expr()   {}
func (*Not) expr()  {}
func (*Cond) expr() {}

// FieldKind says what a Field selects.
type FieldKind uint8

// Field kinds, one per subject of the language.
const (
	FieldAttribute         FieldKind = iota + 1 // attribute:NAME
	FieldEC2InstanceID                          // ec2InstanceId
	FieldAgentConnected                         // agentConnected
	FieldAgentVersion                           // agentVersion
	FieldRegisteredAt                           // registeredAt
	FieldRunningTasksCount                      // runningTasksCount
	FieldTaskGroup                              // task:group
)

// fieldNames are the spellings of the fixed subjects.
var fieldNames = [...]string{
	FieldEC2InstanceID:     "ec2InstanceId",
	FieldAgentConnected:    "agentConnected",
	FieldAgentVersion:      "agentVersion",
	FieldRegisteredAt:      "registeredAt",
	FieldRunningTasksCount: "runningTasksCount",
	FieldTaskGroup:         "task:group",
}

// attributePrefix starts an attribute subject.
const attributePrefix = "attribute:"

// Field is the subject of a comparison.
type Field struct {
	Kind FieldKind
	// Attribute is the attribute name for FieldAttribute.
	Attribute string
}

func (f Field) String() string {
	if f.Kind == FieldAttribute {
		return attributePrefix + f.Attribute
	}
	if int(f.Kind) < len(fieldNames) && fieldNames[f.Kind] != "" {
		return fieldNames[f.Kind]
	}
	return fmt.Sprintf("Field(%d)", f.Kind)
}

// Op is a comparison operator.
type Op uint8

// Operators.
const (
	OpEq         Op = iota + 1 // == equals
	OpNe                       // != not_equals
	OpGt                       // > greater_than
	OpGe                       // >= greater_than_equal
	OpLt                       // < less_than
	OpLe                       // <= less_than_equal
	OpExists                   // exists
	OpNotExists                // !exists not_exists
	OpIn                       // in
	OpNotIn                    // !in not_in
	OpMatches                  // =~ matches
	OpNotMatches               // !~ not_matches
)

// opNames are the canonical spellings String prints.
var opNames = [...]string{
	OpEq: "==", OpNe: "!=", OpGt: ">", OpGe: ">=", OpLt: "<", OpLe: "<=",
	OpExists: "exists", OpNotExists: "not_exists", OpIn: "in", OpNotIn: "not_in",
	OpMatches: "=~", OpNotMatches: "!~",
}

// opWords are the word spellings of the operators (lower case).
var opWords = map[string]Op{
	"equals": OpEq, "not_equals": OpNe,
	"greater_than": OpGt, "greater_than_equal": OpGe,
	"less_than": OpLt, "less_than_equal": OpLe,
	"exists": OpExists, "not_exists": OpNotExists,
	"in": OpIn, "not_in": OpNotIn,
	"matches": OpMatches, "not_matches": OpNotMatches,
}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", o)
}

// positive returns the operator o negates and true, or o and false when o
// is not a negation.
func (o Op) positive() (Op, bool) {
	switch o {
	case OpNe:
		return OpEq, true
	case OpNotExists:
		return OpExists, true
	case OpNotIn:
		return OpIn, true
	case OpNotMatches:
		return OpMatches, true
	}
	return o, false
}

// arity is how many values an operator takes: 0, 1, or -1 for a list.
func (o Op) arity() int {
	switch o {
	case OpExists, OpNotExists:
		return 0
	case OpIn, OpNotIn:
		return -1
	}
	return 1
}

var (
	stringOps  = []Op{OpEq, OpNe, OpIn, OpNotIn, OpMatches, OpNotMatches}
	orderedOps = []Op{OpEq, OpNe, OpGt, OpGe, OpLt, OpLe}
)

// validOps lists the operators each subject accepts, as ECS documents them.
func validOps(k FieldKind) []Op {
	switch k {
	case FieldAttribute:
		return nil // all
	case FieldAgentVersion, FieldRegisteredAt, FieldRunningTasksCount:
		return orderedOps
	}
	return stringOps
}

func opAllowed(k FieldKind, o Op) bool {
	ops := validOps(k)
	if ops == nil {
		return true
	}
	for _, v := range ops {
		if v == o {
			return true
		}
	}
	return false
}

// checkOp reports an operator the subject does not take.
func checkOp(f Field, op Op) error {
	if opAllowed(f.Kind, op) {
		return nil
	}
	names := make([]string, 0, 6)
	for _, o := range validOps(f.Kind) {
		names = append(names, o.String())
	}
	return fmt.Errorf("operator %q is not valid for %s (use %s)", op, f, strings.Join(names, ", "))
}

// attrNameRE is ECS's rule for attribute names.
var attrNameRE = regexp.MustCompile(`^[a-zA-Z0-9_./\\-]{1,128}$`)

// dateLayouts are the registeredAt formats ECS documents; the last is a
// bare date.
var dateLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"}

// parseDate parses a registeredAt argument; day is true for a bare date.
func parseDate(v string) (t time.Time, day bool, err error) {
	for i, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), i == len(dateLayouts)-1, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%q is not a date (want 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, 2018-06-18T22:28:28 or 2018-06-18)", v)
}

// NewCond builds a comparison, checking what Parse checks: the operator is
// valid for the field, the number of values suits the operator, and the
// values are well formed (dates, whole numbers, patterns).
func NewCond(f Field, op Op, values ...string) (*Cond, error) {
	if op < OpEq || op > OpNotMatches {
		return nil, fmt.Errorf("unknown operator %d", op)
	}
	switch {
	case f.Kind == FieldAttribute:
		if !attrNameRE.MatchString(f.Attribute) {
			return nil, fmt.Errorf("attribute name %q: 1-128 letters, digits, hyphens, underscores, periods, slashes and backslashes", f.Attribute)
		}
	case f.Kind < FieldAttribute || f.Kind > FieldTaskGroup:
		return nil, fmt.Errorf("unknown subject kind %d", f.Kind)
	case f.Attribute != "":
		return nil, fmt.Errorf("%s takes no attribute name", f)
	}
	if err := checkOp(f, op); err != nil {
		return nil, err
	}
	switch n := op.arity(); {
	case n == 0 && len(values) != 0:
		return nil, fmt.Errorf("%q takes no value", op)
	case n == 1 && len(values) != 1:
		return nil, fmt.Errorf("%q takes one value", op)
	case n < 0 && len(values) == 0:
		return nil, fmt.Errorf("%q takes a list of at least one value", op)
	}
	c := &Cond{Field: f, Op: op, Values: values}
	for _, v := range values {
		if err := checkValue(f.Kind, v); err != nil {
			return nil, err
		}
	}
	if p, _ := op.positive(); p == OpMatches {
		re, err := compilePattern(values[0])
		if err != nil {
			return nil, err
		}
		c.re = re
	}
	return c, nil
}

func checkValue(k FieldKind, v string) error {
	switch k {
	case FieldRegisteredAt:
		_, _, err := parseDate(v)
		return err
	case FieldRunningTasksCount:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
	}
	return nil
}

// compilePattern compiles a matches argument to match whole values.
func compilePattern(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("invalid pattern %q: %s", p, se.Code)
		}
		return nil, fmt.Errorf("invalid pattern %q", p)
	}
	return re, nil
}

// String forms. Binary operators associate to the left, so a right operand
// of the same precedence is parenthesized to keep the tree's shape.

func (e *And) String() string {
	return group(e.L, isOr) + " and " + group(e.R, func(x Expr) bool { return isOr(x) || isAnd(x) })
}

func (e *Or) String() string { return e.L.String() + " or " + group(e.R, isOr) }

func (e *Not) String() string { return "not(" + e.X.String() + ")" }

func (c *Cond) String() string {
	var b strings.Builder
	b.WriteString(c.Field.String())
	b.WriteByte(' ')
	b.WriteString(c.Op.String())
	switch c.Op.arity() {
	case 1:
		b.WriteByte(' ')
		b.WriteString(quote(c.Values[0]))
	case -1:
		b.WriteString(" [")
		for i, v := range c.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(v))
		}
		b.WriteByte(']')
	}
	return b.String()
}

func isOr(x Expr) bool  { _, ok := x.(*Or); return ok }
func isAnd(x Expr) bool { _, ok := x.(*And); return ok }

func group(x Expr, paren func(Expr) bool) string {
	if paren(x) {
		return "(" + x.String() + ")"
	}
	return x.String()
}

// quote returns v as a bare word when it reads back as one, else in single
// quotes with ' and \ escaped.
func quote(v string) string {
	if v != "" && isWord(v) {
		return v
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(v); i++ {
		if v[i] == '\'' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('\'')
	return b.String()
}

func isWord(v string) bool {
	for i := 0; i < len(v); i++ {
		if !wordByte(v[i]) {
			return false
		}
	}
	return true
}

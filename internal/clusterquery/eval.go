package clusterquery

import (
	"strconv"
	"strings"
	"time"
)

// Subject is what an expression is evaluated against: one container
// instance as the scheduler sees it.
type Subject interface {
	// Attribute returns the value of the named attribute and whether the
	// instance has it (attributes without a value have value "").
	Attribute(name string) (value string, ok bool)
	// TaskGroups returns the groups of the tasks on the instance.
	TaskGroups() []string
	// Info returns the instance's fixed fields.
	Info() Instance
}

// Instance holds the fields of a container instance that are subjects of
// the language.
type Instance struct {
	EC2InstanceID     string
	AgentConnected    bool
	AgentVersion      string
	RegisteredAt      time.Time
	RunningTasksCount int
}

// Facts is a Subject held in memory.
type Facts struct {
	Instance   Instance
	Attributes map[string]string
	Groups     []string
}

var _ Subject = (*Facts)(nil)

// Attribute implements Subject.
func (f *Facts) Attribute(name string) (string, bool) {
	v, ok := f.Attributes[name]
	return v, ok
}

// TaskGroups implements Subject.
func (f *Facts) TaskGroups() []string { return f.Groups }

// Info implements Subject.
func (f *Facts) Info() Instance { return f.Instance }

// Eval implements Expr.
func (e *And) Eval(s Subject) bool { return e.L.Eval(s) && e.R.Eval(s) }

// Eval implements Expr.
func (e *Or) Eval(s Subject) bool { return e.L.Eval(s) || e.R.Eval(s) }

// Eval implements Expr.
func (e *Not) Eval(s Subject) bool { return !e.X.Eval(s) }

// Eval implements Expr. A negative operator is the negation of its
// positive twin.
func (c *Cond) Eval(s Subject) bool {
	op, neg := c.Op.positive()
	return c.eval(s, op) != neg
}

// eval applies the positive operator op.
func (c *Cond) eval(s Subject, op Op) bool {
	switch c.Field.Kind {
	case FieldAttribute:
		v, ok := s.Attribute(c.Field.Attribute)
		if !ok {
			return false
		}
		return c.test(op, v, compareLoose)
	case FieldEC2InstanceID:
		return c.test(op, s.Info().EC2InstanceID, strings.Compare)
	case FieldAgentConnected:
		v := strconv.FormatBool(s.Info().AgentConnected)
		return c.test(op, v, func(a, b string) int {
			if strings.EqualFold(a, b) {
				return 0
			}
			return strings.Compare(a, b)
		})
	case FieldAgentVersion:
		return c.test(op, s.Info().AgentVersion, compareVersions)
	case FieldRegisteredAt:
		return c.test(op, "", func(_, b string) int {
			t, day, err := parseDate(b)
			if err != nil {
				return 1 // unreachable: values are checked when built
			}
			at := s.Info().RegisteredAt.UTC()
			if day {
				at = time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
			}
			return at.Compare(t)
		})
	case FieldRunningTasksCount:
		n := int64(s.Info().RunningTasksCount)
		return c.test(op, "", func(_, b string) int {
			m, _ := strconv.ParseInt(b, 10, 64)
			switch {
			case n < m:
				return -1
			case n > m:
				return 1
			}
			return 0
		})
	case FieldTaskGroup:
		for _, g := range s.TaskGroups() {
			if c.test(op, g, strings.Compare) {
				return true
			}
		}
	}
	return false
}

// test applies op to the subject value v, comparing with cmp(v, argument).
func (c *Cond) test(op Op, v string, cmp func(v, arg string) int) bool {
	switch op {
	case OpExists:
		return true
	case OpEq:
		return cmp(v, c.Values[0]) == 0
	case OpGt:
		return cmp(v, c.Values[0]) > 0
	case OpGe:
		return cmp(v, c.Values[0]) >= 0
	case OpLt:
		return cmp(v, c.Values[0]) < 0
	case OpLe:
		return cmp(v, c.Values[0]) <= 0
	case OpIn:
		for _, a := range c.Values {
			if cmp(v, a) == 0 {
				return true
			}
		}
		return false
	case OpMatches:
		return c.re != nil && c.re.MatchString(v)
	}
	return false
}

// compareLoose compares attribute values: as numbers when both are, else
// as strings.
func compareLoose(a, b string) int {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

// compareVersions compares dotted versions segment by segment: numerically
// where both segments are digits, else as strings; missing segments are 0.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if c := compareSegment(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func compareSegment(x, y string) int {
	if isDigits(x) && isDigits(y) {
		x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(x, y)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

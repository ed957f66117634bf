package clusterquery

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// gen builds random valid expressions for the property tests.
type gen struct{ r *rand.Rand }

func (g gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// Values chosen to stress printing: keywords, operators, quotes,
// backslashes, spaces, brackets and the empty string.
var genValues = []string{
	"t2.small", "us-east-1a", "service:web", "and", "OR", "not", "in", "exists",
	"==", "a b", "it's", `say "hi"`, `back\slash`, `\`, `\'`, "", "[x]", "a,b", "(p)",
	"é", "tab\there", "x!y", "&&", "a|b", "~",
}

var genPatterns = []string{"t2.*", ".*", `\d+`, "a|b", "(x|y)z?", "[a-c]+", "", `it\'s`, " ", `\\`}

var genDates = []string{"2018-06-18", "2018-06-18T22:28:28Z", "2018-06-18T22:28:28+02:00", "2018-06-18T22:28:28"}

var genAttrs = []string{"ecs.instance-type", "a", "x/y", `w\z`, "under_score", "ecs.capability.docker-plugin.local"}

func (g gen) field() Field {
	k := FieldKind(1 + g.r.IntN(int(FieldTaskGroup)))
	if k == FieldAttribute {
		return attr(g.pick(genAttrs))
	}
	return Field{Kind: k}
}

func (g gen) value(k FieldKind, pattern bool) string {
	switch {
	case pattern:
		return g.pick(genPatterns)
	case k == FieldRegisteredAt:
		return g.pick(genDates)
	case k == FieldRunningTasksCount:
		return []string{"0", "3", "-1", "12345"}[g.r.IntN(4)]
	}
	return g.pick(genValues)
}

func (g gen) cond() *Cond {
	for {
		f := g.field()
		op := Op(1 + g.r.IntN(int(OpNotMatches)))
		if !opAllowed(f.Kind, op) {
			continue
		}
		var vals []string
		p, _ := op.positive()
		switch op.arity() {
		case 1:
			vals = []string{g.value(f.Kind, p == OpMatches)}
		case -1:
			for n := 1 + g.r.IntN(3); n > 0; n-- {
				vals = append(vals, g.value(f.Kind, false))
			}
		}
		c, err := NewCond(f, op, vals...)
		if err != nil {
			panic(err) // the generator only makes valid conditions
		}
		return c
	}
}

func (g gen) expr(depth int) Expr {
	if depth == 0 || g.r.IntN(3) == 0 {
		return g.cond()
	}
	switch g.r.IntN(3) {
	case 0:
		return &And{L: g.expr(depth - 1), R: g.expr(depth - 1)}
	case 1:
		return &Or{L: g.expr(depth - 1), R: g.expr(depth - 1)}
	}
	return &Not{X: g.expr(depth - 1)}
}

func (g gen) facts() *Facts {
	f := &Facts{
		Instance: Instance{
			EC2InstanceID:     g.pick([]string{"i-1", "a b", ""}),
			AgentConnected:    g.r.IntN(2) == 0,
			AgentVersion:      g.pick([]string{"1.2.3", "1.10", "and"}),
			RegisteredAt:      time.Date(2018, 6, 18, g.r.IntN(24), 28, 28, 0, time.UTC),
			RunningTasksCount: g.r.IntN(5),
		},
		Attributes: map[string]string{},
	}
	for _, a := range genAttrs {
		if g.r.IntN(2) == 0 {
			f.Attributes[a] = g.pick(genValues)
		}
	}
	for n := g.r.IntN(3); n > 0; n-- {
		f.Groups = append(f.Groups, g.pick(genValues))
	}
	return f
}

// TestStringRoundTrip checks the printing property: Parse(e.String())
// returns an Expr equal to e, for random expressions.
func TestStringRoundTrip(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for i := 0; i < 5000; i++ {
		e := g.expr(4)
		s := e.String()
		got, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if diff := cmp.Diff(e, got, exprCmp); diff != "" {
			t.Fatalf("Parse(String()) differs for %q (-want +got):\n%s", s, diff)
		}
		if s2 := got.String(); s2 != s {
			t.Fatalf("String() not stable: %q then %q", s, s2)
		}
	}
}

// TestNegation checks that each negative operator is the negation of its
// positive twin, and Not the negation of its operand, on random instances.
func TestNegation(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for i := 0; i < 5000; i++ {
		c := g.cond()
		s := g.facts()
		pos, neg := c.Op.positive()
		if neg {
			twin, err := NewCond(c.Field, pos, c.Values...)
			if err != nil {
				t.Fatalf("NewCond: %v", err)
			}
			if c.Eval(s) == twin.Eval(s) {
				t.Fatalf("%s and %s agree (%v) on %+v", c, twin, c.Eval(s), s)
			}
		}
		if (&Not{X: c}).Eval(s) == c.Eval(s) {
			t.Fatalf("not(%s) agrees with %s", c, c)
		}
	}
}

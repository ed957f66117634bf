package clusterquery

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics, that every error is an *Error
// with an offset inside the input, and that whatever parses prints to a
// form that parses back to an equal Expr and evaluates without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"attribute:ecs.instance-type == t2.small",
		"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
		"attribute:ecs.instance-type =~ g2.*",
		"not(task:group == database)",
		"ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
		"registeredAt < 2018-06-18 and runningTasksCount <= 2 || agentConnected != true",
		"agentVersion >= 1.2.0 && !attribute:gpu exists",
		`attribute:x == 'it\'s' or attribute:y not_in ["a b", c]`,
		"((attribute:a exists))",
		"attribute:a !in [x] and attribute:b !exists",
		"attribute:a == ",
		"(",
		"'",
		"attribute:a =~ '('",
	} {
		f.Add(s)
	}
	subj := &Facts{
		Instance:   Instance{EC2InstanceID: "i-1", AgentConnected: true, AgentVersion: "1.2.3", RegisteredAt: time.Date(2018, 6, 18, 0, 0, 0, 0, time.UTC), RunningTasksCount: 2},
		Attributes: map[string]string{"a": "x", "ecs.instance-type": "t2.small"},
		Groups:     []string{"service:web"},
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T, want *Error", s, err)
			}
			if pe.Offset < 0 || pe.Offset > len(s) {
				t.Fatalf("Parse(%q) error offset %d outside [0, %d]", s, pe.Offset, len(s))
			}
			return
		}
		_ = e.Eval(subj)
		p := e.String()
		e2, err := Parse(p)
		if err != nil {
			// The canonical form may be longer than the input (quotes,
			// spaces); past the limit it is expected to fail.
			var pe *Error
			if errors.As(err, &pe) && pe.Offset == 0 && len([]rune(p)) > MaxLen {
				return
			}
			t.Fatalf("Parse(%q) ok, but its String %q fails: %v", s, p, err)
		}
		if diff := cmp.Diff(e, e2, exprCmp); diff != "" {
			t.Fatalf("round trip of %q via %q differs:\n%s", s, p, diff)
		}
	})
}

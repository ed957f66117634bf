package clusterquery

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// exprCmp compares Exprs by structure (the compiled pattern is derived).
var exprCmp = cmpopts.IgnoreUnexported(Cond{})

func attr(name string) Field { return Field{Kind: FieldAttribute, Attribute: name} }

var (
	ec2ID     = Field{Kind: FieldEC2InstanceID}
	connected = Field{Kind: FieldAgentConnected}
	version   = Field{Kind: FieldAgentVersion}
	regAt     = Field{Kind: FieldRegisteredAt}
	running   = Field{Kind: FieldRunningTasksCount}
	taskGroup = Field{Kind: FieldTaskGroup}
)

// cond builds a Cond or fails the test.
func cond(t *testing.T, f Field, op Op, values ...string) *Cond {
	t.Helper()
	c, err := NewCond(f, op, values...)
	if err != nil {
		t.Fatalf("NewCond(%v, %v, %q): %v", f, op, values, err)
	}
	return c
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  func(t *testing.T) Expr
		canon string // String() of the result
	}{
		{"equals symbol", "attribute:ecs.instance-type == t2.small",
			func(t *testing.T) Expr { return cond(t, attr("ecs.instance-type"), OpEq, "t2.small") },
			"attribute:ecs.instance-type == t2.small"},
		{"equals word", "attribute:ecs.instance-type equals t2.small",
			func(t *testing.T) Expr { return cond(t, attr("ecs.instance-type"), OpEq, "t2.small") },
			"attribute:ecs.instance-type == t2.small"},
		{"not_equals", "attribute:stack not_equals prod",
			func(t *testing.T) Expr { return cond(t, attr("stack"), OpNe, "prod") },
			"attribute:stack != prod"},
		{"!=", "attribute:stack != prod",
			func(t *testing.T) Expr { return cond(t, attr("stack"), OpNe, "prod") },
			"attribute:stack != prod"},
		{"greater_than", "attribute:size greater_than 3",
			func(t *testing.T) Expr { return cond(t, attr("size"), OpGt, "3") }, "attribute:size > 3"},
		{">", "attribute:size > 3",
			func(t *testing.T) Expr { return cond(t, attr("size"), OpGt, "3") }, "attribute:size > 3"},
		{"greater_than_equal", "attribute:size greater_than_equal 3",
			func(t *testing.T) Expr { return cond(t, attr("size"), OpGe, "3") }, "attribute:size >= 3"},
		{">=", "attribute:size>=3",
			func(t *testing.T) Expr { return cond(t, attr("size"), OpGe, "3") }, "attribute:size >= 3"},
		{"less_than", "attribute:size less_than 3",
			func(t *testing.T) Expr { return cond(t, attr("size"), OpLt, "3") }, "attribute:size < 3"},
		{"<", "attribute:size < 3",
			func(t *testing.T) Expr { return cond(t, attr("size"), OpLt, "3") }, "attribute:size < 3"},
		{"less_than_equal", "attribute:size less_than_equal 3",
			func(t *testing.T) Expr { return cond(t, attr("size"), OpLe, "3") }, "attribute:size <= 3"},
		{"<=", "attribute:size <= 3",
			func(t *testing.T) Expr { return cond(t, attr("size"), OpLe, "3") }, "attribute:size <= 3"},
		{"exists", "attribute:ecs.capability.docker-plugin.local exists",
			func(t *testing.T) Expr { return cond(t, attr("ecs.capability.docker-plugin.local"), OpExists) },
			"attribute:ecs.capability.docker-plugin.local exists"},
		{"!exists", "attribute:gpu !exists",
			func(t *testing.T) Expr { return cond(t, attr("gpu"), OpNotExists) }, "attribute:gpu not_exists"},
		{"not_exists", "attribute:gpu not_exists",
			func(t *testing.T) Expr { return cond(t, attr("gpu"), OpNotExists) }, "attribute:gpu not_exists"},
		{"in", "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
			func(t *testing.T) Expr {
				return cond(t, attr("ecs.availability-zone"), OpIn, "us-east-1a", "us-east-1b")
			}, "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"},
		{"in one", "attribute:zone in [a]",
			func(t *testing.T) Expr { return cond(t, attr("zone"), OpIn, "a") }, "attribute:zone in [a]"},
		{"!in", "attribute:zone !in [a,b]",
			func(t *testing.T) Expr { return cond(t, attr("zone"), OpNotIn, "a", "b") }, "attribute:zone not_in [a, b]"},
		{"not_in", "attribute:zone not_in [a , b]",
			func(t *testing.T) Expr { return cond(t, attr("zone"), OpNotIn, "a", "b") }, "attribute:zone not_in [a, b]"},
		{"=~", "attribute:ecs.instance-type =~ g2.*",
			func(t *testing.T) Expr { return cond(t, attr("ecs.instance-type"), OpMatches, "g2.*") },
			"attribute:ecs.instance-type =~ g2.*"},
		{"matches", "attribute:ecs.instance-type matches g2.*",
			func(t *testing.T) Expr { return cond(t, attr("ecs.instance-type"), OpMatches, "g2.*") },
			"attribute:ecs.instance-type =~ g2.*"},
		{"!~", "attribute:ecs.instance-type !~ g2.*",
			func(t *testing.T) Expr { return cond(t, attr("ecs.instance-type"), OpNotMatches, "g2.*") },
			"attribute:ecs.instance-type !~ g2.*"},
		{"not_matches", "attribute:ecs.instance-type not_matches g2.*",
			func(t *testing.T) Expr { return cond(t, attr("ecs.instance-type"), OpNotMatches, "g2.*") },
			"attribute:ecs.instance-type !~ g2.*"},
		{"ec2InstanceId in quoted list", "ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
			func(t *testing.T) Expr { return cond(t, ec2ID, OpIn, "i-abcd1234", "i-wxyx7890") },
			"ec2InstanceId in [i-abcd1234, i-wxyx7890]"},
		{"agentConnected", "agentConnected == false",
			func(t *testing.T) Expr { return cond(t, connected, OpEq, "false") }, "agentConnected == false"},
		{"agentVersion", "agentVersion < 1.10.0",
			func(t *testing.T) Expr { return cond(t, version, OpLt, "1.10.0") }, "agentVersion < 1.10.0"},
		{"registeredAt date", "registeredAt < 2018-06-18",
			func(t *testing.T) Expr { return cond(t, regAt, OpLt, "2018-06-18") }, "registeredAt < 2018-06-18"},
		{"registeredAt offset", "registeredAt >= 2018-06-18T22:28:28+00:00",
			func(t *testing.T) Expr { return cond(t, regAt, OpGe, "2018-06-18T22:28:28+00:00") },
			"registeredAt >= 2018-06-18T22:28:28+00:00"},
		{"registeredAt Z", "registeredAt > 2018-06-18T22:28:28Z",
			func(t *testing.T) Expr { return cond(t, regAt, OpGt, "2018-06-18T22:28:28Z") },
			"registeredAt > 2018-06-18T22:28:28Z"},
		{"registeredAt local", "registeredAt != 2018-06-18T22:28:28",
			func(t *testing.T) Expr { return cond(t, regAt, OpNe, "2018-06-18T22:28:28") },
			"registeredAt != 2018-06-18T22:28:28"},
		{"runningTasksCount", "runningTasksCount == 0",
			func(t *testing.T) Expr { return cond(t, running, OpEq, "0") }, "runningTasksCount == 0"},
		{"task:group", "task:group == service:production",
			func(t *testing.T) Expr { return cond(t, taskGroup, OpEq, "service:production") },
			"task:group == service:production"},
		{"double quotes with space", `attribute:owner == "team a"`,
			func(t *testing.T) Expr { return cond(t, attr("owner"), OpEq, "team a") }, "attribute:owner == 'team a'"},
		{"escapes", `attribute:x == 'it\'s \\ \d'`,
			func(t *testing.T) Expr { return cond(t, attr("x"), OpEq, `it's \ \d`) }, `attribute:x == 'it\'s \\ \\d'`},
		{"empty quoted value", "attribute:x == ''",
			func(t *testing.T) Expr { return cond(t, attr("x"), OpEq, "") }, "attribute:x == ''"},
		{"keyword as value", "attribute:x == and",
			func(t *testing.T) Expr { return cond(t, attr("x"), OpEq, "and") }, "attribute:x == and"},
		{"no spaces", "attribute:a==b&&attribute:c!exists",
			func(t *testing.T) Expr {
				return &And{L: cond(t, attr("a"), OpEq, "b"), R: cond(t, attr("c"), OpNotExists)}
			}, "attribute:a == b and attribute:c not_exists"},
		{"upper-case keywords", "attribute:a EQUALS b AND NOT attribute:c Exists",
			func(t *testing.T) Expr {
				return &And{L: cond(t, attr("a"), OpEq, "b"), R: &Not{X: cond(t, attr("c"), OpExists)}}
			}, "attribute:a == b and not(attribute:c exists)"},
		{"not call style", "not(task:group == database)",
			func(t *testing.T) Expr { return &Not{X: cond(t, taskGroup, OpEq, "database")} },
			"not(task:group == database)"},
		{"bang", "!attribute:a exists",
			func(t *testing.T) Expr { return &Not{X: cond(t, attr("a"), OpExists)} }, "not(attribute:a exists)"},
		{"double not", "not not attribute:a exists",
			func(t *testing.T) Expr { return &Not{X: &Not{X: cond(t, attr("a"), OpExists)}} },
			"not(not(attribute:a exists))"},
		{"symbols", "attribute:a exists || attribute:b exists && !attribute:c exists",
			func(t *testing.T) Expr {
				return &Or{L: cond(t, attr("a"), OpExists), R: &And{L: cond(t, attr("b"), OpExists), R: &Not{X: cond(t, attr("c"), OpExists)}}}
			}, "attribute:a exists or attribute:b exists and not(attribute:c exists)"},
		{"white space", " \tattribute:a\n==\r\nb ",
			func(t *testing.T) Expr { return cond(t, attr("a"), OpEq, "b") }, "attribute:a == b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want(t), got, exprCmp); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if s := got.String(); s != tt.canon {
				t.Errorf("String() = %q, want %q", s, tt.canon)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	a, b, c := "attribute:a exists", "attribute:b exists", "attribute:c exists"
	tests := []struct {
		name, in, want string // want is the fully parenthesized shape
	}{
		{"and binds tighter than or", a + " or " + b + " and " + c, "(a or (b and c))"},
		{"and before or", a + " and " + b + " or " + c, "((a and b) or c)"},
		{"and is left-associative", a + " and " + b + " and " + c, "((a and b) and c)"},
		{"or is left-associative", a + " or " + b + " or " + c, "((a or b) or c)"},
		{"not binds tighter than and", "not " + a + " and " + b, "((not a) and b)"},
		{"not binds tighter than or", "! " + a + " || " + b, "((not a) or b)"},
		{"parentheses group", "(" + a + " or " + b + ") and " + c, "((a or b) and c)"},
		{"right grouping", a + " and (" + b + " and " + c + ")", "(a and (b and c))"},
		{"not of group", "not (" + a + " or " + b + ")", "(not (a or b))"},
		{"redundant parentheses", "((" + a + "))", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := shape(e); got != tt.want {
				t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// shape prints e fully parenthesized, conditions by attribute name.
func shape(e Expr) string {
	switch e := e.(type) {
	case *And:
		return "(" + shape(e.L) + " and " + shape(e.R) + ")"
	case *Or:
		return "(" + shape(e.L) + " or " + shape(e.R) + ")"
	case *Not:
		return "(not " + shape(e.X) + ")"
	case *Cond:
		return e.Field.Attribute
	}
	return "?"
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", `at 0: expected an expression`},
		{"blank", "   ", `at 3: expected an expression`},
		{"missing value", "attribute:abc == ", `at 17: expected a value after "=="`},
		{"missing value before and", "attribute:a == and", ``}, // valid: and is the value
		{"missing operator", "attribute:a", `at 11: expected an operator after "attribute:a"`},
		{"bad operator", "attribute:a is b", `at 12: expected an operator after "attribute:a", got "is"`},
		{"lone =", "attribute:a = b", `at 12: unexpected "="; did you mean "=="?`},
		{"lone &", "attribute:a == b & attribute:c exists", `at 17: unexpected "&"; did you mean "&&"?`},
		{"lone |", "attribute:a == b | attribute:c exists", `at 17: unexpected "|"; did you mean "||"?`},
		{"lone ~", "attribute:a ~ b", `at 12: unexpected "~"; did you mean "=~" or "!~"?`},
		{"bang without exists", "attribute:a ! x", `at 14: expected "exists" or "in" after "!", got "x"`},
		{"unknown subject", "foo == bar", `at 0: unknown subject "foo": expected attribute:NAME, ec2InstanceId, agentConnected, agentVersion, registeredAt, runningTasksCount or task:group`},
		{"subjects are case-sensitive", "EC2InstanceId == i-1", `at 0: unknown subject "EC2InstanceId": expected attribute:NAME, ec2InstanceId, agentConnected, agentVersion, registeredAt, runningTasksCount or task:group`},
		{"empty attribute name", "attribute: == x", `at 10: attribute name "": 1-128 letters, digits, hyphens, underscores, periods, slashes and backslashes`},
		{"bad attribute name", "attribute:a:b == x", `at 10: attribute name "a:b": 1-128 letters, digits, hyphens, underscores, periods, slashes and backslashes`},
		{"long attribute name", "attribute:" + strings.Repeat("a", 129) + " exists", `at 10: attribute name "` + strings.Repeat("a", 129) + `": 1-128 letters, digits, hyphens, underscores, periods, slashes and backslashes`},
		{"subject expected", "== x", `at 0: expected a subject (attribute:NAME, ec2InstanceId, agentConnected, agentVersion, registeredAt, runningTasksCount or task:group), "not" or "(", got "=="`},
		{"quoted subject", "'attribute:a' exists", `at 0: expected a subject (attribute:NAME, ec2InstanceId, agentConnected, agentVersion, registeredAt, runningTasksCount or task:group), "not" or "(", got quoted value "attribute:a"`},
		{"trailing operand", "attribute:a exists b", `at 19: expected "and", "or" or the end of the expression, got "b"`},
		{"adjacent quoted values", "attribute:a == 'it''s'", `at 19: expected "and", "or" or the end of the expression, got quoted value "s"`},
		{"stray )", "attribute:a exists)", `at 18: expected "and", "or" or the end of the expression, got ")"`},
		{"unclosed (", "(attribute:a exists", `at 19: expected ")" to close the "(" at 0, got the end of the expression`},
		{"junk before )", "(attribute:a exists x)", `at 20: expected ")" to close the "(" at 0, got "x"`},
		{"empty parentheses", "()", `at 1: expected a subject (attribute:NAME, ec2InstanceId, agentConnected, agentVersion, registeredAt, runningTasksCount or task:group), "not" or "(", got ")"`},
		{"dangling and", "attribute:a exists and", `at 22: expected a subject (attribute:NAME, ec2InstanceId, agentConnected, agentVersion, registeredAt, runningTasksCount or task:group), "not" or "(", got the end of the expression`},
		{"dangling not", "not", `at 3: expected a subject (attribute:NAME, ec2InstanceId, agentConnected, agentVersion, registeredAt, runningTasksCount or task:group), "not" or "(", got the end of the expression`},
		{"unterminated quote", "attribute:a == 'b", `at 15: unterminated quoted value: expected a closing '`},
		{"unterminated double quote", `attribute:a == "b\"`, `at 15: unterminated quoted value: expected a closing "`},
		{"control character", "attribute:a == \x01", `at 15: unexpected character '\x01'`},
		{"list for single value", "attribute:a == [b]", `at 15: expected a single value after "==", not a list (use in)`},
		{"in without list", "attribute:a in x", `at 15: expected "[" to start the list after "in", got "x"`},
		{"in at end", "attribute:a not_in", `at 18: expected "[" to start the list after "not_in", got the end of the expression`},
		{"empty list", "attribute:a in []", `at 16: expected a value in the list, got "]"`},
		{"unclosed list", "attribute:a in [x", `at 17: expected "," or "]" in the list, got the end of the expression`},
		{"list without comma", "attribute:a in [x y]", `at 18: expected "," or "]" in the list, got "y"`},
		{"list trailing comma", "attribute:a in [x,]", `at 18: expected a value in the list, got "]"`},
		{"list at end", "attribute:a in [", `at 16: expected a value in the list`},
		{"!in without list", "attribute:a !in x", `at 16: expected "[" to start the list after "!in", got "x"`},
		{"equals without value", "attribute:a equals", `at 18: expected a value after "equals"`},
		{"value is an operator", "attribute:a == != b", `at 15: expected a value after "==", got "!="`},
		{"ordering on ec2InstanceId", "ec2InstanceId > i-1", `at 14: operator ">" is not valid for ec2InstanceId (use ==, !=, in, not_in, =~, !~)`},
		{"ordering on agentConnected", "agentConnected >= true", `at 15: operator ">=" is not valid for agentConnected (use ==, !=, in, not_in, =~, !~)`},
		{"ordering on task:group", "task:group < x", `at 11: operator "<" is not valid for task:group (use ==, !=, in, not_in, =~, !~)`},
		{"exists on task:group", "task:group exists", `at 11: operator "exists" is not valid for task:group (use ==, !=, in, not_in, =~, !~)`},
		{"matches on agentVersion", "agentVersion =~ 1.*", `at 13: operator "=~" is not valid for agentVersion (use ==, !=, >, >=, <, <=)`},
		{"in on registeredAt", "registeredAt in [2018-06-18]", `at 13: operator "in" is not valid for registeredAt (use ==, !=, >, >=, <, <=)`},
		{"not_exists on runningTasksCount", "runningTasksCount !exists", `at 18: operator "not_exists" is not valid for runningTasksCount (use ==, !=, >, >=, <, <=)`},
		{"bad date", "registeredAt < yesterday", `at 15: registeredAt: "yesterday" is not a date (want 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, 2018-06-18T22:28:28 or 2018-06-18)`},
		{"bad count", "runningTasksCount > x", `at 20: runningTasksCount: "x" is not a whole number`},
		{"bad pattern", "attribute:a =~ '('", `at 15: invalid pattern "(": missing closing )`},
		{"bad pattern in not_matches", "task:group !~ '*x'", `at 14: invalid pattern "*x": missing argument to repetition operator`},
		{"error in right operand", "attribute:a exists and foo exists", `at 23: unknown subject "foo": expected attribute:NAME, ec2InstanceId, agentConnected, agentVersion, registeredAt, runningTasksCount or task:group`},
		{"too long", "attribute:a in [" + strings.Repeat("x,", 1000) + "x]", `at 0: expression is 2018 characters long; at most 2000 are allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Parse(%q): %v, want success", tt.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error %q", tt.in, e, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.in, err, tt.want)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Errorf("error is %T, want *Error", err)
			}
		})
	}
}

func TestMaxLen(t *testing.T) {
	head := "attribute:a == "
	ok := head + strings.Repeat("x", MaxLen-len(head))
	if _, err := Parse(ok); err != nil {
		t.Errorf("Parse of %d characters: %v, want success", len(ok), err)
	}
	// Characters, not bytes: 2000 two-byte runes are allowed.
	multi := head + strings.Repeat("é", MaxLen-len(head))
	if _, err := Parse(multi); err != nil {
		t.Errorf("Parse of %d characters (%d bytes): %v, want success", MaxLen, len(multi), err)
	}
	if _, err := Parse(ok + "x"); err == nil {
		t.Errorf("Parse of %d characters succeeded, want error", len(ok)+1)
	}
}

func TestNewCond(t *testing.T) {
	tests := []struct {
		name   string
		f      Field
		op     Op
		values []string
		want   string // error; "" for success
	}{
		{"ok", attr("a"), OpEq, []string{"b"}, ""},
		{"exists takes no value", attr("a"), OpExists, []string{"b"}, `"exists" takes no value`},
		{"== takes one value", attr("a"), OpEq, nil, `"==" takes one value`},
		{"in takes a list", attr("a"), OpIn, nil, `"in" takes a list of at least one value`},
		{"unknown op", attr("a"), Op(99), nil, `unknown operator 99`},
		{"unknown field", Field{Kind: 42}, OpEq, []string{"b"}, `unknown subject kind 42`},
		{"name on fixed field", Field{Kind: FieldTaskGroup, Attribute: "x"}, OpEq, []string{"b"}, `task:group takes no attribute name`},
		{"bad attribute name", attr("a b"), OpExists, nil, `attribute name "a b": 1-128 letters, digits, hyphens, underscores, periods, slashes and backslashes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCond(tt.f, tt.op, tt.values...)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("NewCond error = %q, want %q", got, tt.want)
			}
		})
	}
}

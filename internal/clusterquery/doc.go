// Package clusterquery parses and evaluates the ECS cluster query language:
// the expressions of memberOf placement constraints (and, later, of the
// ListContainerInstances filter). Parse turns an expression into an Expr;
// Expr.Eval decides whether one container instance, seen through the small
// Subject interface, satisfies it. Evaluation does no I/O, so the scheduler
// can filter candidate instances with a pure function.
//
// # Syntax
//
// An expression compares a subject with an argument, and expressions
// combine with boolean operators:
//
//	expr    = or
//	or      = and { ("or" | "||") and }
//	and     = unary { ("and" | "&&") unary }
//	unary   = ("not" | "!") unary | "(" or ")" | cond
//	cond    = subject operator [ value | "[" value { "," value } "]" ]
//	value   = word | 'quoted' | "quoted"
//
// not binds tighter than and, and tighter than or; and and or associate to
// the left. Parentheses group. Keywords (and, or, not and the word
// operators) are case-insensitive; subjects are not.
//
// A word is a run of characters other than white space and
// ( ) [ ] , ' " = ! < > ~ & |, so attribute:ecs.instance-type, t2.*,
// service:web and 2018-06-18T22:28:28+00:00 need no quotes. A value with
// other characters (spaces, for one) is quoted with ' or "; inside quotes a
// backslash escapes the quote character or a backslash and is otherwise
// literal, so patterns such as '\d+' read as written.
//
// # Subjects
//
//	attribute:NAME      a container instance attribute (ecs.instance-type,
//	                    ecs.availability-zone, custom ones); all operators
//	ec2InstanceId       ==  !=  in  not_in  =~  !~
//	agentConnected      ==  !=  in  not_in  =~  !~   (values true, false)
//	agentVersion        ==  !=  >  >=  <  <=         (dotted version order)
//	registeredAt        ==  !=  >  >=  <  <=         (a date, see below)
//	runningTasksCount   ==  !=  >  >=  <  <=         (a whole number)
//	task:group          ==  !=  in  not_in  =~  !~   (the groups of the tasks
//	                    on the instance, e.g. service:web, family:web)
//
// # Operators
//
//	==  equals                 string equality
//	!=  not_equals             not ==
//	>   greater_than           ordering (see below)
//	>=  greater_than_equal
//	<   less_than
//	<=  less_than_equal
//	exists                     the attribute is set (attribute: only)
//	!exists  not_exists        not exists
//	in                         equal to one of a list: in [a, b]
//	!in  not_in                not in
//	=~  matches                matches a regular expression
//	!~  not_matches            not =~
//
// Every negative operator is exactly the negation of its positive twin, so
// "x != v" and "not x == v" select the same instances. In particular an
// instance without the attribute satisfies attribute:a != v, not_in and !~,
// and fails every other operator but not_exists.
//
// For task:group an instance matches ==, in and =~ when any task on it is
// in a matching group; != , not_in and !~ hold when none is (so
// "not task:group == service:db" keeps a task off instances running the
// database service).
//
// Ordering: attribute values compare as numbers when both sides are
// numbers, otherwise as strings; agentVersion compares dot-separated
// segments numerically ("1.10.0" > "1.9.2"); runningTasksCount compares as
// integers; registeredAt takes 2018-06-18T22:28:28+00:00,
// 2018-06-18T22:28:28Z, 2018-06-18T22:28:28 (UTC) or 2018-06-18 — a bare
// date compares at day granularity, so "registeredAt == 2018-06-18" means
// registered that day (UTC).
//
// Patterns: ECS documents the argument of matches as a Java regular
// expression. berth uses Go's RE2 syntax (the common subset: no
// backreferences or lookaround) and, as Java's String.matches, requires the
// whole value to match: "attribute:ecs.instance-type =~ t2.*" selects every
// t2 instance type.
//
// # Errors and limits
//
// An expression is at most 2000 characters, as in ECS. Parse errors are
// *Error values carrying the byte offset (from 0) where the problem was
// found and saying what was expected, e.g.
//
//	at 17: expected a value after "=="
//
// Expr.String prints a canonical form that Parse reads back to an equal
// Expr.
package clusterquery

package lb

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
)

// glob reports whether s matches pattern, where * matches any run of
// characters (including none) and ? exactly one byte.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// hostOnly strips a port from a Host header and lower-cases it.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(host)
}

// compiledRule is a Rule ready to match.
type compiledRule struct {
	priority int
	hosts    []string // lower-cased
	paths    []string
	action   *compiledAction
}

func (r *compiledRule) matches(host, path string) bool {
	return anyGlob(r.hosts, host) && anyGlob(r.paths, path)
}

func anyGlob(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if glob(p, s) {
			return true
		}
	}
	return false
}

// compiledAction is an Action with its target groups resolved.
type compiledAction struct {
	fixed  *FixedResponse
	groups []*group
	cum    []int // cumulative weights
	total  int
}

// pick chooses a target group by weight; nil for a fixed or empty action.
func (a *compiledAction) pick() *group {
	switch len(a.groups) {
	case 0:
		return nil
	case 1:
		return a.groups[0]
	}
	n := rand.IntN(a.total)
	for i, c := range a.cum {
		if n < c {
			return a.groups[i]
		}
	}
	return a.groups[len(a.groups)-1]
}

// routes is one listener's compiled rule table. It is immutable.
type routes struct {
	rules []compiledRule // sorted by priority
	def   *compiledAction
}

// match returns the action for a request's host header and path.
func (rt *routes) match(hostHeader, path string) *compiledAction {
	host := hostOnly(hostHeader)
	for i := range rt.rules {
		if rt.rules[i].matches(host, path) {
			return rt.rules[i].action
		}
	}
	return rt.def
}

// compileRoutes builds a listener's table; groups maps names to groups.
func compileRoutes(l Listener, groups map[string]*group) *routes {
	rt := &routes{def: compileAction(l.DefaultAction, groups)}
	for _, r := range l.Rules {
		cr := compiledRule{priority: r.Priority, paths: r.Paths, action: compileAction(r.Action, groups)}
		for _, h := range r.Hosts {
			cr.hosts = append(cr.hosts, strings.ToLower(h))
		}
		rt.rules = append(rt.rules, cr)
	}
	sort.Slice(rt.rules, func(i, j int) bool { return rt.rules[i].priority < rt.rules[j].priority })
	return rt
}

func compileAction(a Action, groups map[string]*group) *compiledAction {
	ca := &compiledAction{fixed: a.Fixed}
	allZero := true
	for _, w := range a.Forward {
		if w.Weight > 0 {
			allZero = false
		}
	}
	for _, w := range a.Forward {
		wt := w.Weight
		if allZero {
			wt = 1
		}
		if wt == 0 {
			continue
		}
		ca.total += wt
		ca.groups = append(ca.groups, groups[w.TargetGroup])
		ca.cum = append(ca.cum, ca.total)
	}
	return ca
}

// codeRange is an inclusive range of HTTP status codes.
type codeRange struct{ lo, hi int }

// statusMatcher is a parsed HealthCheck.Matcher.
type statusMatcher []codeRange

func (m statusMatcher) match(code int) bool {
	for _, r := range m {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

// parseMatcher parses "200", "200-399" or "200,204" (and mixtures).
func parseMatcher(s string) (statusMatcher, error) {
	var m statusMatcher
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(strings.TrimSpace(lo))
		h, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
			return nil, fmt.Errorf("bad code or range %q", part)
		}
		m = append(m, codeRange{l, h})
	}
	return m, nil
}

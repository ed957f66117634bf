package logstore

import (
	"bytes"
	"fmt"
	"strings"
)

// PatternError is a filter pattern berth cannot parse or does not support.
type PatternError struct {
	Pattern string
	Reason  string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("logstore: filter pattern %q: %s", e.Pattern, e.Reason)
}

// pattern is a parsed CloudWatch term filter pattern. An event matches when
// it contains every must term, none of the not terms, and (if there are
// any) at least one of the any terms. Matching is case-sensitive, as in
// CloudWatch.
type pattern struct {
	must, not, any [][]byte
}

// parsePattern parses the term subset of CloudWatch's filter syntax:
//
//	ERROR               events containing ERROR
//	ERROR Exception     events containing both (terms are space-separated)
//	"disk full"         events containing the phrase
//	ERROR -Retrying     events containing ERROR but not Retrying
//	?ERROR ?WARN        events containing ERROR or WARN
//
// An empty pattern matches every event. JSON patterns ({ $.level = ... }),
// space-delimited patterns ([ip, user, ...]), regular expressions (%...%)
// and numeric comparisons are not supported and fail with a *PatternError.
func parsePattern(s string) (pattern, error) {
	var p pattern
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "{"):
		return p, &PatternError{Pattern: s, Reason: "JSON filter patterns are not supported by berth"}
	case strings.HasPrefix(t, "["):
		return p, &PatternError{Pattern: s, Reason: "space-delimited filter patterns are not supported by berth"}
	case len(t) >= 2 && strings.HasPrefix(t, "%") && strings.HasSuffix(t, "%"):
		return p, &PatternError{Pattern: s, Reason: "regular expression filter patterns are not supported by berth"}
	}
	for len(t) > 0 {
		kind := byte(0)
		if (t[0] == '-' || t[0] == '?') && len(t) > 1 && t[1] != ' ' && t[1] != '\t' {
			kind, t = t[0], t[1:]
		}
		var term string
		if t[0] == '"' {
			end := strings.IndexByte(t[1:], '"')
			if end < 0 {
				return p, &PatternError{Pattern: s, Reason: "unterminated quoted phrase"}
			}
			term, t = t[1:1+end], t[2+end:]
		} else {
			end := strings.IndexAny(t, " \t")
			if end < 0 {
				end = len(t)
			}
			term, t = t[:end], t[end:]
		}
		t = strings.TrimLeft(t, " \t")
		if term == "" {
			continue
		}
		switch kind {
		case '-':
			p.not = append(p.not, []byte(term))
		case '?':
			p.any = append(p.any, []byte(term))
		default:
			p.must = append(p.must, []byte(term))
		}
	}
	return p, nil
}

func (p pattern) empty() bool { return len(p.must)+len(p.not)+len(p.any) == 0 }

func (p pattern) match(msg []byte) bool {
	for _, t := range p.must {
		if !bytes.Contains(msg, t) {
			return false
		}
	}
	for _, t := range p.not {
		if bytes.Contains(msg, t) {
			return false
		}
	}
	if len(p.any) == 0 {
		return true
	}
	for _, t := range p.any {
		if bytes.Contains(msg, t) {
			return true
		}
	}
	return false
}

package exec

import (
	"errors"
	"strings"
)

// ErrBadQuoting: Split found an unterminated quote or a trailing backslash.
var ErrBadQuoting = errors.New("exec: unterminated quote or trailing backslash")

// ECS's ExecuteCommand takes the command as one string. berth splits it
// into arguments with shell quoting rules but runs no shell, so a container
// without one (FROM scratch) can still be exec'd into: `berth exec` joins
// its arguments with Quote, and the server splits them back with Split.
// For pipes, variables and globbing, run a shell: sh -c '...'.

// Quote joins args into one command string that Split turns back into
// args: arguments that need it are single-quoted.
func Quote(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.IndexFunc(a, unsafeRune) < 0 {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("_@%+=:,./-", r)
}

// Split splits a command string into arguments as a POSIX shell splits
// words, without any expansion: blanks separate words; '...' is literal;
// in "..." a backslash escapes only \ " $ ` and newline; elsewhere a
// backslash escapes the next character; backslash-newline joins lines.
func Split(s string) ([]string, error) {
	var (
		args []string
		cur  strings.Builder
		in   bool // inside a word
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		case '\\':
			if i+1 >= len(s) {
				return nil, ErrBadQuoting
			}
			i++
			if s[i] == '\n' {
				continue
			}
			cur.WriteByte(s[i])
			in = true
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, ErrBadQuoting
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			in = true
		case '"':
			in = true
			closed := false
			for i++; i < len(s); i++ {
				c := s[i]
				if c == '"' {
					closed = true
					break
				}
				if c == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0 {
					i++
					if s[i] != '\n' {
						cur.WriteByte(s[i])
					}
					continue
				}
				cur.WriteByte(c)
			}
			if !closed {
				return nil, ErrBadQuoting
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return args, nil
}

package render

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Style is how tables are drawn.
type Style struct {
	// Color wraps status words in ANSI colours (only on a terminal, and
	// only when NO_COLOR is unset: the caller decides).
	Color bool
}

// ANSI colours of status words.
const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	dim    = "\x1b[2m"
	reset  = "\x1b[0m"
)

// statusColor is the colour of a status word: settled and good, moving,
// or bad; "" for anything else.
func statusColor(s string) string {
	switch s {
	case "ACTIVE", "RUNNING", "COMPLETED", "HEALTHY", "PRIMARY", "connected", "yes":
		return green
	case "PENDING", "PROVISIONING", "ACTIVATING", "IN_PROGRESS", "DRAINING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "REGISTERING":
		return yellow
	case "STOPPED", "FAILED", "UNHEALTHY", "INACTIVE", "disconnected", "no":
		return red
	}
	return ""
}

// Paint wraps s in the colour of the status word it is, when st asks for
// colours.
func (st Style) Paint(s string) string {
	if !st.Color {
		return s
	}
	if c := statusColor(s); c != "" {
		return c + s + reset
	}
	return s
}

// Dim greys s out when st asks for colours.
func (st Style) Dim(s string) string {
	if !st.Color || s == "" {
		return s
	}
	return dim + s + reset
}

// table is rows of cells aligned in columns two spaces apart. Cells in
// colour columns are painted after padding, so escapes never skew the
// alignment.
type table struct {
	header []string
	rows   [][]string
	color  map[int]bool // columns whose cells are status words
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write prints the table; an empty table prints only its header.
func (t *table) write(w io.Writer, st Style) error {
	widths := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(r []string, paint bool) {
		for i, c := range r {
			last := i == len(r)-1
			pad := ""
			if !last {
				pad = strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2)
			}
			if paint && t.color[i] {
				c = st.Paint(c)
			}
			b.WriteString(c + pad)
		}
		b.WriteString("\n")
	}
	line(t.header, false)
	for _, r := range t.rows {
		line(r, true)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// orDash is s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func itoa(n int32) string { return fmt.Sprint(n) }

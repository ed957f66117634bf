//go:build !linux

package cli

import "os"

// IsTerminal reports whether f is a terminal (a character device: close
// enough off Linux).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

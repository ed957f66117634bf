// Package awstime is the timestamp of the AWS JSON protocols: epoch seconds
// as a JSON number. The generated api packages alias it as their Time.
package awstime

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Time is a timestamp on the AWS JSON wire: epoch seconds as a JSON number, with
// millisecond precision (the form the AWS SDKs and CLI parse).
type Time struct{ time.Time }

// New returns t as a *Time, for filling optional timestamp members.
func New(t time.Time) *Time { return &Time{t} }

// MarshalJSON encodes t as epoch seconds.
func (t Time) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', 3, 64), nil
}

// UnmarshalJSON accepts epoch seconds (integer or fractional) and, as the SDKs
// tolerate it, an RFC 3339 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		t.Time = v
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
		return fmt.Errorf("timestamp: want epoch seconds, got %.40s", b)
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC()
	return nil
}

package awstime

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTimeRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		wire string
	}{
		{"whole seconds", time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), "1795608000"},
		{"milliseconds", time.Date(2026, 11, 25, 12, 0, 0, 250e6, time.UTC), "1795608000.250"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(Time{tt.in})
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.wire {
				t.Fatalf("got %s, want %s", b, tt.wire)
			}
			var back Time
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !back.Equal(tt.in) {
				t.Fatalf("got %v, want %v", back.Time, tt.in)
			}
		})
	}
}

func TestTimeRejectsGarbage(t *testing.T) {
	for _, in := range []string{`"yesterday"`, `true`, `1e300`, `[]`} {
		var v Time
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("Unmarshal(%s) = nil error, want one", in)
		}
	}
}

package process

import (
	"os"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{
			name: "plain",
			in:   "1234 (testapp) S 1 1234 1234 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 5 0 987654 1000 200",
			want: procStat{state: 'S', startTicks: 987654},
		},
		{
			name: "command name with spaces and parens",
			in:   "1234 (my (odd) app) Z 1 1234 1234 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 5 0 42 1000 200",
			want: procStat{state: 'Z', startTicks: 42},
		},
		{name: "truncated", in: "1234 (x) S 1 2 3", wantErr: true},
		{name: "no name", in: "1234 x S", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseProcStat = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAliveChecksStartTime(t *testing.T) {
	self, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !alive(os.Getpid(), self.startTicks) {
		t.Error("alive(self, own start time) = false")
	}
	if alive(os.Getpid(), self.startTicks+1) {
		t.Error("alive(self, other start time) = true: a reused pid would be adopted")
	}
}

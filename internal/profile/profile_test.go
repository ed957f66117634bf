package profile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth", "profile.json")
	want := Profile{Endpoint: "http://127.0.0.1:7700", Region: "us-east-1", AccessKeyID: "AKBE1", SecretAccessKey: "s3cret", Cluster: "default"}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("mode %o, want 600", got)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load after Save (-want +got):\n%s", diff)
	}
	b, _ := os.ReadFile(path)
	for _, key := range []string{`"endpoint"`, `"region"`, `"accessKeyId"`, `"secretAccessKey"`, `"cluster"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("file lacks %s:\n%s", key, b)
		}
	}
	// Saving again replaces the file and keeps the mode.
	want.Cluster = "other"
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	if got, _ := Load(path); got.Cluster != "other" {
		t.Errorf("cluster after second save = %q, want other", got.Cluster)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "none.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"endpont":"x"}`), 0o600)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "endpont") {
		t.Errorf("unknown member: got %v, want an error naming it", err)
	}
}

func TestPath(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	cfg := func() (string, error) { return "/home/u/.config", nil }
	if got, _ := Path(getenv, cfg); got != "/home/u/.config/berth/profile.json" {
		t.Errorf("default path %q", got)
	}
	env[Env] = "/tmp/p.json"
	if got, _ := Path(getenv, cfg); got != "/tmp/p.json" {
		t.Errorf("$BERTH_PROFILE path %q", got)
	}
}

func TestStringRedacts(t *testing.T) {
	s := Profile{SecretAccessKey: "s3cret"}.String()
	if strings.Contains(s, "s3cret") || !strings.Contains(s, "[redacted]") {
		t.Errorf("String() = %q, want the secret redacted", s)
	}
}

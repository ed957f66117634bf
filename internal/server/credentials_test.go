package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestCredentialsGeneratedOnceAndKeptPrivate(t *testing.T) {
	dir := t.TempDir()
	c1, created, err := LoadOrCreateCredentials(dir, envOf(nil))
	if err != nil || !created {
		t.Fatalf("first start: got created=%v err=%v, want a new pair", created, err)
	}
	if len(c1.AccessKeyID) != 20 || len(c1.SecretAccessKey) != 40 {
		t.Fatalf("got key %d chars / secret %d chars, want 20 / 40", len(c1.AccessKeyID), len(c1.SecretAccessKey))
	}
	fi, err := os.Stat(filepath.Join(dir, credentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("got mode %v, want 0600", fi.Mode().Perm())
	}
	c2, created, err := LoadOrCreateCredentials(dir, envOf(nil))
	if err != nil || created || c2 != c1 {
		t.Fatalf("second start: got %v created=%v err=%v, want the same pair", c2, created, err)
	}
	if strings.Contains(c1.String(), c1.SecretAccessKey) {
		t.Fatal("String() prints the secret")
	}
}

func TestCredentialsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	c, created, err := LoadOrCreateCredentials(dir, envOf(map[string]string{"BERTH_ACCESS_KEY_ID": "AK", "BERTH_SECRET_ACCESS_KEY": "SK"}))
	if err != nil || created || c.AccessKeyID != "AK" || c.SecretAccessKey != "SK" {
		t.Fatalf("got %v created=%v err=%v, want AK/SK from env", c, created, err)
	}
	if _, err := os.Stat(filepath.Join(dir, credentialsFile)); err == nil {
		t.Fatal("env credentials were written to disk")
	}
	if _, _, err := LoadOrCreateCredentials(dir, envOf(map[string]string{"BERTH_ACCESS_KEY_ID": "AK"})); err == nil {
		t.Fatal("only BERTH_ACCESS_KEY_ID set: got nil error, want one")
	}
}

func TestConfigValidateNamesTheFlag(t *testing.T) {
	base := Config{Listen: DefaultListen, DataDir: "d", Region: DefaultRegion, AccountID: DefaultAccountID}
	tests := []struct {
		name string
		mod  func(*Config)
		flag string
	}{
		{"account", func(c *Config) { c.AccountID = "12" }, "--account-id"},
		{"region", func(c *Config) { c.Region = "Mars" }, "--region"},
		{"listen", func(c *Config) { c.Listen = "nope" }, "--listen"},
		{"data dir", func(c *Config) { c.DataDir = "" }, "--data-dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.flag) {
				t.Fatalf("got %v, want an error naming %s", err, tt.flag)
			}
		})
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

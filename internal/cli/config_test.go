package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/internal/profile"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "berth", "profile.json")
	if err := profile.Save(prof, profile.Profile{Endpoint: "http://p:1", Region: "eu-west-1", AccessKeyID: "PK", SecretAccessKey: "ps", Cluster: "pc"}); err != nil {
		t.Fatal(err)
	}
	configDir := func() (string, error) { return dir, nil }
	noConfigDir := func() (string, error) { return "", errors.New("no home") }
	cases := []struct {
		name      string
		flags     Flags
		env       map[string]string
		configDir func() (string, error)
		want      Target
	}{
		{"defaults without a profile", Flags{}, nil, noConfigDir,
			Target{Endpoint: DefaultEndpoint, Region: DefaultRegion, Cluster: DefaultCluster}},
		{"profile in the config dir", Flags{}, nil, configDir,
			Target{Endpoint: "http://p:1", Region: "eu-west-1", AccessKeyID: "PK", SecretAccessKey: "ps", Cluster: "pc"}},
		{"environment over profile", Flags{}, map[string]string{
			"AWS_ENDPOINT_URL": "http://e:2", "AWS_DEFAULT_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "EK", "AWS_SECRET_ACCESS_KEY": "es", "BERTH_CLUSTER": "ec",
		}, configDir, Target{Endpoint: "http://e:2", Region: "us-west-2", AccessKeyID: "EK", SecretAccessKey: "es", Cluster: "ec"}},
		{"AWS_REGION over AWS_DEFAULT_REGION", Flags{}, map[string]string{"AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "us-west-2"}, noConfigDir,
			Target{Endpoint: DefaultEndpoint, Region: "ap-south-1", Cluster: DefaultCluster}},
		{"half a key pair in the environment takes the profile's", Flags{}, map[string]string{"AWS_ACCESS_KEY_ID": "EK"}, configDir,
			Target{Endpoint: "http://p:1", Region: "eu-west-1", AccessKeyID: "PK", SecretAccessKey: "ps", Cluster: "pc"}},
		{"flags over everything", Flags{Endpoint: "http://f:3", Region: "sa-east-1", Cluster: "fc"}, map[string]string{"AWS_ENDPOINT_URL": "http://e:2", "BERTH_CLUSTER": "ec"}, configDir,
			Target{Endpoint: "http://f:3", Region: "sa-east-1", AccessKeyID: "PK", SecretAccessKey: "ps", Cluster: "fc", ClusterFromFlag: true}},
		{"BERTH_PROFILE", Flags{}, map[string]string{profile.Env: prof}, noConfigDir,
			Target{Endpoint: "http://p:1", Region: "eu-west-1", AccessKeyID: "PK", SecretAccessKey: "ps", Cluster: "pc"}},
		{"--profile-file", Flags{ProfileFile: prof}, map[string]string{profile.Env: "/nonexistent"}, noConfigDir,
			Target{Endpoint: "http://p:1", Region: "eu-west-1", AccessKeyID: "PK", SecretAccessKey: "ps", Cluster: "pc"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.flags, func(k string) string { return tc.env[k] }, tc.configDir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveProfileErrors(t *testing.T) {
	env := func(string) string { return "" }
	dir := t.TempDir()
	if _, err := Resolve(Flags{ProfileFile: filepath.Join(dir, "missing.json")}, env, os.UserConfigDir); err == nil {
		t.Error("--profile-file naming a missing file: no error")
	}
	bad := filepath.Join(dir, "berth", "profile.json")
	os.MkdirAll(filepath.Dir(bad), 0o700)
	os.WriteFile(bad, []byte("{not json"), 0o600)
	_, err := Resolve(Flags{}, env, func() (string, error) { return dir, nil })
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("broken profile: got %v, want an error naming %s", err, bad)
	}
}

func TestSecretRedacted(t *testing.T) {
	tg := Target{SecretAccessKey: "s3cret"}
	if s := tg.SecretAccessKey.String(); strings.Contains(s, "s3cret") {
		t.Errorf("Secret prints %q", s)
	}
}

// Package profile is the file that tells the berth CLI where its cluster
// is and how to sign for it. `berth up` writes it; every client command
// (berth ps, deploy, logs, …) reads it when flags and the environment leave
// something unset.
//
// The file is JSON, mode 0600 (it holds a secret key):
//
//	{
//	  "endpoint": "http://127.0.0.1:7700",
//	  "region": "us-east-1",
//	  "accessKeyId": "AKBE...",
//	  "secretAccessKey": "...",
//	  "cluster": "default"
//	}
//
// It lives at $BERTH_PROFILE, else <user config dir>/berth/profile.json
// (on Linux $XDG_CONFIG_HOME/berth/profile.json, else
// ~/.config/berth/profile.json).
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Env is the environment variable that names the profile file.
const Env = "BERTH_PROFILE"

// Profile is what the file holds. Every member may be empty.
type Profile struct {
	// Endpoint is the URL of the berth API, e.g. http://127.0.0.1:7700.
	Endpoint string `json:"endpoint,omitempty"`
	// Region the requests are signed for.
	Region string `json:"region,omitempty"`
	// AccessKeyID and SecretAccessKey are the key pair requests are signed
	// with.
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
	// Cluster the commands act on when none is given.
	Cluster string `json:"cluster,omitempty"`
}

// String shows the profile with the secret key redacted.
func (p Profile) String() string {
	secret := ""
	if p.SecretAccessKey != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("endpoint=%s region=%s accessKeyId=%s secretAccessKey=%s cluster=%s",
		p.Endpoint, p.Region, p.AccessKeyID, secret, p.Cluster)
}

// Path returns where the profile lives: $BERTH_PROFILE if set, else
// <configDir>/berth/profile.json. getenv and configDir are os.Getenv and
// os.UserConfigDir outside tests.
func Path(getenv func(string) string, configDir func() (string, error)) (string, error) {
	if p := getenv(Env); p != "" {
		return p, nil
	}
	dir, err := configDir()
	if err != nil {
		return "", fmt.Errorf("find the profile: %w (set %s)", err, Env)
	}
	return filepath.Join(dir, "berth", "profile.json"), nil
}

// Load reads the profile at path. A file that does not exist is an error
// that matches fs.ErrNotExist.
func Load(path string) (Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, fmt.Errorf("read profile: %w", err)
	}
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Profile{}, fmt.Errorf("read profile %s: %w", path, err)
	}
	return p, nil
}

// Save writes p to path with mode 0600, creating the directory (0700) if
// needed. It writes a temporary file and renames it over the old one, so
// a reader never sees half a profile.
func Save(path string, p Profile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".profile-*.json")
	if err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("save profile: %w", err)
	}
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	return nil
}

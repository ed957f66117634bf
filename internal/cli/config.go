package cli

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/berth-io/berth/internal/profile"
)

// Defaults of the connection settings.
const (
	DefaultEndpoint = "http://127.0.0.1:7700"
	DefaultRegion   = "us-east-1"
	DefaultCluster  = "default"
)

// Flags are the connection flags every client command takes; empty means
// not given.
type Flags struct {
	Endpoint    string // --endpoint
	Region      string // --region
	Cluster     string // --cluster
	ProfileFile string // --profile-file
}

// Secret is a string that prints as [redacted].
type Secret string

func (Secret) String() string { return "[redacted]" }

// Target is where the commands go and how they sign: resolved from the
// flags, then the environment, then the profile file, then the defaults.
type Target struct {
	Endpoint        string
	Region          string
	AccessKeyID     string
	SecretAccessKey Secret
	Cluster         string
	// ClusterFromFlag says the cluster came from --cluster (a deploy
	// file's cluster gives way to it, and to nothing else).
	ClusterFromFlag bool
}

// Resolve works out the target. Each setting comes from the first of:
// its flag; the environment (AWS_ENDPOINT_URL, AWS_REGION or
// AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY,
// BERTH_CLUSTER); the profile file (--profile-file, else $BERTH_PROFILE,
// else <user config dir>/berth/profile.json); the default. A profile file
// that does not exist is skipped, unless --profile-file named it.
// getenv and configDir are os.Getenv and os.UserConfigDir outside tests.
func Resolve(f Flags, getenv func(string) string, configDir func() (string, error)) (Target, error) {
	var p profile.Profile
	path := f.ProfileFile
	if path == "" {
		var err error
		if path, err = profile.Path(getenv, configDir); err != nil {
			path = "" // no config dir: go on without a profile
		}
	}
	if path != "" {
		var err error
		p, err = profile.Load(path)
		if err != nil && (f.ProfileFile != "" || !errors.Is(err, fs.ErrNotExist)) {
			return Target{}, fmt.Errorf("--profile-file: %w", err)
		}
	}
	t := Target{
		Endpoint:        first(f.Endpoint, getenv("AWS_ENDPOINT_URL"), p.Endpoint, DefaultEndpoint),
		Region:          first(f.Region, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), p.Region, DefaultRegion),
		Cluster:         first(f.Cluster, getenv("BERTH_CLUSTER"), p.Cluster, DefaultCluster),
		ClusterFromFlag: f.Cluster != "",
	}
	// The key pair goes together: both from the environment, or both
	// from the profile.
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		t.AccessKeyID, t.SecretAccessKey = id, Secret(secret)
	} else {
		t.AccessKeyID, t.SecretAccessKey = p.AccessKeyID, Secret(p.SecretAccessKey)
	}
	return t, nil
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

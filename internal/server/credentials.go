package server

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Credentials is the access key pair API clients sign requests with.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// String never prints the secret.
func (c Credentials) String() string {
	return fmt.Sprintf("{AccessKeyID:%s SecretAccessKey:[redacted]}", c.AccessKeyID)
}

// credentialsFile is where a generated pair is kept, mode 0600.
const credentialsFile = "credentials.json"

// LoadOrCreateCredentials returns the pair from the environment
// (BERTH_ACCESS_KEY_ID / BERTH_SECRET_ACCESS_KEY) if set, else the one kept
// in dataDir, generating and saving one on first start. created reports a
// new pair.
func LoadOrCreateCredentials(dataDir string, getenv func(string) string) (c Credentials, created bool, err error) {
	id, secret := getenv("BERTH_ACCESS_KEY_ID"), getenv("BERTH_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		return Credentials{AccessKeyID: id, SecretAccessKey: secret}, false, nil
	case id != "" || secret != "":
		return Credentials{}, false, errors.New("load credentials: set both BERTH_ACCESS_KEY_ID and BERTH_SECRET_ACCESS_KEY, or neither")
	}
	path := filepath.Join(dataDir, credentialsFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return Credentials{}, false, fmt.Errorf("load credentials: %s is corrupt; delete it to generate a new pair", path)
		}
		return c, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return Credentials{}, false, fmt.Errorf("load credentials: %w", err)
	}
	c = Credentials{AccessKeyID: "AKBE" + randomString(16, upperAlnum), SecretAccessKey: randomString(40, secretChars)}
	b, _ = json.MarshalIndent(c, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return Credentials{}, false, fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return Credentials{}, false, fmt.Errorf("save credentials: %w", err)
	}
	return c, true, nil
}

const (
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomString draws n characters from alphabet (whose length divides 256,
// so there is no modulo bias).
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

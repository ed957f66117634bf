package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// joinTokenFile keeps the token agents authenticate with, mode 0600.
const joinTokenFile = "join-token"

// LoadOrCreateJoinToken returns the cluster's join token: BERTH_JOIN_TOKEN
// when set, else the one kept in dataDir, generated on first start.
func LoadOrCreateJoinToken(dataDir string, getenv func(string) string) (string, error) {
	if t := getenv("BERTH_JOIN_TOKEN"); t != "" {
		if len(t) < 16 {
			return "", errors.New("BERTH_JOIN_TOKEN: must be at least 16 characters")
		}
		return t, nil
	}
	path := filepath.Join(dataDir, joinTokenFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		t := strings.TrimSpace(string(b))
		if len(t) < 16 {
			return "", fmt.Errorf("load join token: %s is corrupt; delete it to generate a new token", path)
		}
		return t, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("load join token: %w", err)
	}
	var raw [24]byte
	_, _ = rand.Read(raw[:])
	t := "bjt_" + hex.EncodeToString(raw[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save join token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("save join token: %w", err)
	}
	return t, nil
}

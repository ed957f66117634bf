package process

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Scheme prefixes every process image.
const Scheme = "process:"

// IsImage reports whether image targets the process runtime.
func IsImage(image string) bool { return strings.HasPrefix(image, Scheme) }

// ParseImage returns what a process image names: an absolute path
// ("process:///usr/bin/app", "process:/usr/bin/app") or a command to look up
// in PATH ("process:app"). It does not touch the filesystem.
func ParseImage(image string) (target string, err error) {
	rest, ok := strings.CutPrefix(image, Scheme)
	if !ok {
		return "", fmt.Errorf("%q is not a process image: want process:///absolute/path or process:command", image)
	}
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		if !strings.HasPrefix(after, "/") {
			return "", fmt.Errorf("%q: a process image names no host: want process:///absolute/path", image)
		}
		rest = after
	}
	switch {
	case rest == "":
		return "", fmt.Errorf("%q names no executable", image)
	case strings.HasPrefix(rest, "/"):
		return filepath.Clean(rest), nil
	case strings.Contains(rest, "/"):
		return "", fmt.Errorf("%q: a relative path is ambiguous: want an absolute path or a bare command name", image)
	default:
		return rest, nil
	}
}

// resolveExecutable turns an absolute path or a command name into the path
// of an executable file.
func resolveExecutable(target string) (string, error) {
	if !filepath.IsAbs(target) {
		return exec.LookPath(target)
	}
	fi, err := os.Stat(target)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", target)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not executable", target)
	}
	return target, nil
}

// resolveImage resolves a process image to its executable and digest.
func resolveImage(image string) (path, digest string, err error) {
	target, err := ParseImage(image)
	if err != nil {
		return "", "", err
	}
	path, err = resolveExecutable(target)
	if err != nil {
		return "", "", err
	}
	digest, err = fileDigest(path)
	if err != nil {
		return "", "", err
	}
	return path, digest, nil
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

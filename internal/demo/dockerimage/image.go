// Package dockerimage builds the demo's Docker image from the berth
// executable that is running, through the Docker Engine API, so `berth up`
// needs no registry: a FROM scratch image holding the executable (and, when
// it is dynamically linked, its ELF interpreter and shared libraries at the
// paths the loader looks for them), with `berth demo-app` as its
// entrypoint. It is built with the engine's legacy builder from a tar
// context, so nothing is pulled.
//
// The tag is berth-demo:<first 12 hex digits of the executable's SHA-256>:
// the same binary never builds twice, and a new one gets a new tag (so the
// demo service rolls to it).
package dockerimage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// Repository is the image name of the demo; tags are content hashes.
const Repository = "berth-demo"

// ExePath is where the berth executable goes in the image.
const ExePath = "/berth"

// Label marks images built by this package.
const Label = "io.berth.demo"

// Engine is what building needs from the Docker client (*client.Client).
type Engine interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageBuild(ctx context.Context, context io.Reader, opts client.ImageBuildOptions) (client.ImageBuildResult, error)
}

// Tag returns the demo image's tag for the executable exe.
func Tag(exe string) (string, error) {
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", exe, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", exe, err)
	}
	return Repository + ":" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// Ensure makes the demo image for exe exist in the engine and returns its
// tag; built reports that it had to be built (else an image with that tag
// was there already).
func Ensure(ctx context.Context, eng Engine, exe string, dirs []string) (tag string, built bool, err error) {
	tag, err = Tag(exe)
	if err != nil {
		return "", false, err
	}
	_, err = eng.ImageInspect(ctx, tag)
	switch {
	case err == nil:
		return tag, false, nil
	case !cerrdefs.IsNotFound(err):
		return "", false, fmt.Errorf("inspect image %s: %w", tag, err)
	}
	files, libDirs, err := Files(exe, ExePath, dirs)
	if err != nil {
		return "", false, fmt.Errorf("build image %s: %w", tag, err)
	}
	tarball, err := Context(files, libDirs)
	if err != nil {
		return "", false, fmt.Errorf("build image %s: %w", tag, err)
	}
	res, err := eng.ImageBuild(ctx, tarball, client.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
		Labels:      map[string]string{Label: "true"},
	})
	if err != nil {
		return "", false, fmt.Errorf("build image %s: %w", tag, err)
	}
	defer res.Body.Close()
	if err := readBuildOutput(res.Body); err != nil {
		return "", false, fmt.Errorf("build image %s: %w", tag, err)
	}
	return tag, true, nil
}

// Dockerfile returns the demo image's Dockerfile. libDirs, when any, go
// into LD_LIBRARY_PATH: the image has no /etc/ld.so.cache.
func Dockerfile(libDirs []string) string {
	var b strings.Builder
	b.WriteString("FROM scratch\nCOPY rootfs/ /\n")
	if len(libDirs) > 0 {
		fmt.Fprintf(&b, "ENV LD_LIBRARY_PATH=%s\n", strings.Join(libDirs, ":"))
	}
	fmt.Fprintf(&b, "ENTRYPOINT [%q, \"demo-app\"]\n", ExePath)
	return b.String()
}

// Context returns the build context, a tar holding the Dockerfile and
// every file under rootfs/ at its image path.
func Context(files []File, libDirs []string) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	df := Dockerfile(libDirs)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(tw, df); err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := addFile(tw, "rootfs"+f.Path, f.Source); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

func addFile(tw *tar.Writer, name, src string) error {
	perm, err := mode(src)
	if err != nil {
		return err
	}
	fh, err := os.Open(src)
	if err != nil {
		return err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: perm, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, fh); err != nil {
		return fmt.Errorf("add %s: %w", src, err)
	}
	return nil
}

// readBuildOutput reads the engine's JSON progress stream to its end and
// returns the build's error, if it reported one.
func readBuildOutput(r io.Reader) error {
	dec := json.NewDecoder(r)
	var last string
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("read build output: %w", err)
		}
		if s := strings.TrimSpace(msg.Stream); s != "" {
			last = s
		}
		if msg.Error != "" || msg.ErrorDetail.Message != "" {
			m := msg.ErrorDetail.Message
			if m == "" {
				m = msg.Error
			}
			if last != "" {
				return fmt.Errorf("%s (after: %s)", m, last)
			}
			return errors.New(m)
		}
	}
}

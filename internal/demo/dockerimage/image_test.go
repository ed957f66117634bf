package dockerimage

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/client"
)

// dynamicBinary returns a dynamically linked executable of this host, or
// skips the test.
func dynamicBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/bin/sh", "/bin/ls", "/usr/bin/env"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		interp, _ := interpreter(f)
		f.Close()
		if interp != "" {
			return p
		}
	}
	t.Skip("no dynamically linked executable found on this host")
	return ""
}

func TestFilesDynamic(t *testing.T) {
	exe := dynamicBinary(t)
	files, dirs, err := Files(exe, ExePath, SearchDirs(goruntime.GOARCH))
	if err != nil {
		t.Fatal(err)
	}
	if files[0].Path != ExePath {
		t.Errorf("first file: got %s, want the executable at %s", files[0].Path, ExePath)
	}
	f, _ := elf.Open(exe)
	interp, _ := interpreter(f)
	f.Close()
	paths := map[string]bool{}
	for _, fl := range files {
		paths[fl.Path] = true
		if !filepath.IsAbs(fl.Path) {
			t.Errorf("%s: not an absolute image path", fl.Path)
		}
		if _, err := os.Stat(fl.Source); err != nil {
			t.Errorf("%s: source %v", fl.Path, err)
		}
	}
	if !paths[interp] {
		t.Errorf("files %v: no ELF interpreter %s", paths, interp)
	}
	if !slices.ContainsFunc(files, func(f File) bool { return strings.HasPrefix(filepath.Base(f.Path), "libc.so") }) {
		t.Errorf("files %v: no libc", paths)
	}
	if len(dirs) == 0 {
		t.Errorf("no library directories for LD_LIBRARY_PATH")
	}
}

func TestFilesStatic(t *testing.T) {
	// The test binary of a package without cgo is static when cgo is off.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Skipf("test binary is not ELF: %v", err)
	}
	interp, _ := interpreter(f)
	f.Close()
	if interp != "" {
		t.Skip("test binary is dynamically linked (cgo on)")
	}
	files, dirs, err := Files(exe, ExePath, SearchDirs(goruntime.GOARCH))
	if err != nil || len(files) != 1 || dirs != nil {
		t.Errorf("static binary: got %v %v %v, want only the executable", files, dirs, err)
	}
}

func TestFilesMissingLibrary(t *testing.T) {
	exe := dynamicBinary(t)
	if _, _, err := Files(exe, ExePath, []string{t.TempDir()}); err == nil || !strings.Contains(err.Error(), "not found in") {
		t.Errorf("no library dirs: got %v, want a library not found", err)
	}
}

func TestDockerfile(t *testing.T) {
	for _, tc := range []struct {
		name string
		dirs []string
		want string
	}{
		{"static", nil, "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/berth\", \"demo-app\"]\n"},
		{"dynamic", []string{"/lib/x86_64-linux-gnu", "/usr/lib"},
			"FROM scratch\nCOPY rootfs/ /\nENV LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib\nENTRYPOINT [\"/berth\", \"demo-app\"]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Dockerfile(tc.dirs)); diff != "" {
				t.Errorf("Dockerfile (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContext(t *testing.T) {
	src := filepath.Join(t.TempDir(), "berth")
	if err := os.WriteFile(src, []byte("#!binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	r, err := Context([]File{{Path: ExePath, Source: src}, {Path: "/lib/x/libc.so.6", Source: src}}, []string{"/lib/x"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h.Mode
	}
	want := map[string]int64{"Dockerfile": 0o644, "rootfs/berth": 0o744, "rootfs/lib/x/libc.so.6": 0o744}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("context entries (-want +got):\n%s", diff)
	}
}

// fakeEngine is an Engine that has the images in have and builds by
// answering the stream in output.
type fakeEngine struct {
	have   map[string]bool
	output string
	builds []client.ImageBuildOptions
}

func (e *fakeEngine) ImageInspect(_ context.Context, image string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if e.have[image] {
		return client.ImageInspectResult{}, nil
	}
	return client.ImageInspectResult{}, cerrdefs.ErrNotFound
}

func (e *fakeEngine) ImageBuild(_ context.Context, _ io.Reader, opts client.ImageBuildOptions) (client.ImageBuildResult, error) {
	e.builds = append(e.builds, opts)
	return client.ImageBuildResult{Body: io.NopCloser(strings.NewReader(e.output))}, nil
}

func TestEnsure(t *testing.T) {
	exe, err := os.Executable() // an ELF executable of this host
	if err != nil {
		t.Fatal(err)
	}
	tag, err := Tag(exe)
	if err != nil || !strings.HasPrefix(tag, Repository+":") || len(tag) != len(Repository)+1+12 {
		t.Fatalf("Tag: got %q, %v", tag, err)
	}
	ctx := context.Background()

	t.Run("exists", func(t *testing.T) {
		eng := &fakeEngine{have: map[string]bool{tag: true}}
		got, built, err := Ensure(ctx, eng, exe, SearchDirs(goruntime.GOARCH))
		if err != nil || got != tag || built || len(eng.builds) != 0 {
			t.Errorf("got %q built=%v err=%v after %d builds; want %q without a build", got, built, err, len(eng.builds), tag)
		}
	})
	t.Run("builds", func(t *testing.T) {
		eng := &fakeEngine{output: `{"stream":"Step 1/3 : FROM scratch\n"}` + "\n" + `{"stream":"Successfully tagged x\n"}`}
		got, built, err := Ensure(ctx, eng, exe, SearchDirs(goruntime.GOARCH))
		if err != nil || got != tag || !built || len(eng.builds) != 1 {
			t.Fatalf("got %q built=%v err=%v after %d builds; want one build of %q", got, built, err, len(eng.builds), tag)
		}
		if o := eng.builds[0]; !slices.Equal(o.Tags, []string{tag}) || o.Version != "1" {
			t.Errorf("build options: tags %v version %q, want [%s] and the legacy builder", o.Tags, o.Version, tag)
		}
	})
	t.Run("fails", func(t *testing.T) {
		eng := &fakeEngine{output: `{"stream":"Step 2/3 : COPY rootfs/ /\n"}{"errorDetail":{"message":"no space left"},"error":"no space left"}`}
		if _, _, err := Ensure(ctx, eng, exe, SearchDirs(goruntime.GOARCH)); err == nil || !strings.Contains(err.Error(), "no space left") {
			t.Errorf("got %v, want the engine's error", err)
		}
	})
}

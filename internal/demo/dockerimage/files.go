package dockerimage

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// File is one file of the image: where it goes and where its content comes
// from on this host.
type File struct {
	// Path is the absolute path in the image.
	Path string
	// Source is the file on this host (symbolic links resolved).
	Source string
}

// Files returns the files an image needs to run the executable exe as
// exePath: exe itself and, when it is dynamically linked (a binary built
// with cgo, as `go run` builds by default when a C compiler is present),
// its ELF interpreter and every shared library it needs, transitively, at
// the paths this host's dynamic loader would find them. Libraries are
// looked up in dirs, in order (SearchDirs gives the standard ones); the
// loader's cache (/etc/ld.so.cache) is not consulted. The second result is
// the directories the libraries were found in, for LD_LIBRARY_PATH.
func Files(exe, exePath string, dirs []string) ([]File, []string, error) {
	src, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return nil, nil, fmt.Errorf("resolve %s: %w", exe, err)
	}
	files := []File{{Path: exePath, Source: src}}
	f, err := elf.Open(src)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", exe, err)
	}
	defer f.Close()
	interp, err := interpreter(f)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", exe, err)
	}
	needed, err := f.ImportedLibraries()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, nil, fmt.Errorf("read %s: %w", exe, err)
	}
	if interp == "" && len(needed) == 0 {
		return files, nil, nil // static
	}
	r := resolver{dirs: dirs, machine: f.Machine, class: f.Class, seen: map[string]bool{}}
	if interp != "" {
		s, err := filepath.EvalSymlinks(interp)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: ELF interpreter %s: %w", exe, interp, err)
		}
		r.seen[filepath.Base(interp)] = true
		r.files = append(r.files, File{Path: interp, Source: s})
	}
	if err := r.add(exe, needed); err != nil {
		return nil, nil, err
	}
	return append(files, r.files...), r.usedDirs, nil
}

// SearchDirs are the directories the dynamic loader searches by default on
// Linux distributions, multiarch first, for an executable of goarch.
func SearchDirs(goarch string) []string {
	var dirs []string
	if triple := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "386": "i386-linux-gnu", "arm": "arm-linux-gnueabihf"}[goarch]; triple != "" {
		dirs = append(dirs, "/lib/"+triple, "/usr/lib/"+triple)
	}
	return append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib")
}

// interpreter returns the PT_INTERP path of f, "" for none.
func interpreter(f *elf.File) (string, error) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return "", fmt.Errorf("PT_INTERP: %w", err)
		}
		return strings.TrimRight(string(b), "\x00"), nil
	}
	return "", nil
}

// resolver finds shared libraries by DT_NEEDED name, depth first.
type resolver struct {
	dirs     []string
	machine  elf.Machine
	class    elf.Class
	seen     map[string]bool
	files    []File
	usedDirs []string
}

func (r *resolver) add(from string, needed []string) error {
	for _, name := range needed {
		if r.seen[name] {
			continue
		}
		r.seen[name] = true
		path, err := r.find(name)
		if err != nil {
			return fmt.Errorf("%s needs %s: %w", from, name, err)
		}
		src, err := filepath.EvalSymlinks(path)
		if err != nil {
			return fmt.Errorf("%s needs %s: %w", from, name, err)
		}
		r.files = append(r.files, File{Path: path, Source: src})
		if dir := filepath.Dir(path); !slices.Contains(r.usedDirs, dir) {
			r.usedDirs = append(r.usedDirs, dir)
		}
		lib, err := elf.Open(src)
		if err != nil {
			return fmt.Errorf("read %s: %w", src, err)
		}
		more, err := lib.ImportedLibraries()
		lib.Close()
		if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
			return fmt.Errorf("read %s: %w", src, err)
		}
		if err := r.add(path, more); err != nil {
			return err
		}
	}
	return nil
}

// find returns the first file called name in the search dirs that is an
// ELF object for the same machine and class (so a 32-bit library in /lib
// is passed over for the 64-bit one).
func (r *resolver) find(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, d := range r.dirs {
		p := filepath.Join(d, name)
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		ok := f.Machine == r.machine && f.Class == r.class
		f.Close()
		if ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %s", strings.Join(r.dirs, ", "))
}

// mode returns the permission bits to give a file of the image.
func mode(src string) (int64, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return 0, err
	}
	return int64(fi.Mode().Perm() | 0o444), nil
}

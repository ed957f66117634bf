package process

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-io/berth/internal/runtime"
)

// stateVersion is the version of the state file format.
const stateVersion = 1

// File names inside a container's directory.
const (
	stateFile = "state.json"
	logFile   = "log"
	workDir   = "work"
)

// record is a container's state file: everything needed to report on it
// and re-adopt it after a restart.
type record struct {
	Version int
	ID      string
	// Spec is the spec with defaults applied.
	Spec runtime.ContainerSpec
	// Executable is the resolved image path; Digest its SHA-256.
	Executable string
	Digest     string
	StopSignal string

	State      runtime.State
	Pid        int
	StartTicks uint64 // /proc/<pid>/stat starttime, to tell a reused pid
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int
	Ports      []runtime.PortBinding
	// Env and Dir are the process's environment and working directory,
	// reused by Exec and health checks.
	Env map[string]string
	Dir string
}

// save writes the record atomically: a temporary file, fsynced, renamed
// over the old one.
func (rec *record) save(dir string) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state of %s: %w", rec.ID, err)
	}
	tmp, err := os.CreateTemp(dir, stateFile+".*")
	if err != nil {
		return fmt.Errorf("save state of %s: %w", rec.ID, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save state of %s: %w", rec.ID, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save state of %s: %w", rec.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state of %s: %w", rec.ID, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, stateFile)); err != nil {
		return fmt.Errorf("save state of %s: %w", rec.ID, err)
	}
	return nil
}

// loadRecord reads a container's state file.
func loadRecord(dir string) (*record, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, stateFile), err)
	}
	if rec.Version != stateVersion {
		return nil, fmt.Errorf("%s: state version %d, want %d", filepath.Join(dir, stateFile), rec.Version, stateVersion)
	}
	return &rec, nil
}

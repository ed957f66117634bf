package agent

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// identityFile is the agent's identity in its data dir.
const identityFile = "instance.json"

// identity is what the agent keeps across restarts: which container
// instance it is, and the ID that marks its containers.
type identity struct {
	// Cluster and InstanceID are the last registration; the agent
	// re-registers as that instance after a restart.
	Cluster              string `json:"cluster,omitzero"`
	InstanceID           string `json:"instanceId,omitzero"`
	ContainerInstanceArn string `json:"containerInstanceArn,omitzero"`
	// AgentID is generated once per data dir and labels every container
	// the agent creates (LabelAgent), so agents that share a container
	// engine never adopt or clean up each other's containers.
	AgentID string `json:"agentId"`
}

// loadIdentity reads the identity in dir, creating the agent ID when there
// is none yet (it is saved with the first registration).
func loadIdentity(dir string) (identity, error) {
	var id identity
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return id, fmt.Errorf("read identity: %w", err)
	default:
		if err := json.Unmarshal(b, &id); err != nil {
			return id, fmt.Errorf("read identity %s: %w", filepath.Join(dir, identityFile), err)
		}
	}
	if id.AgentID == "" {
		var r [8]byte
		if _, err := rand.Read(r[:]); err != nil {
			return id, fmt.Errorf("generate agent id: %w", err)
		}
		id.AgentID = hex.EncodeToString(r[:])
	}
	return id, nil
}

// saveIdentity writes id to dir atomically.
func saveIdentity(dir string, id identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, identityFile), append(b, '\n'))
}

// writeFileAtomic replaces path with data: a crash leaves the old or the
// new content, never a mix.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Package store defines berth's durable key-value store: the single source of
// truth for clusters, task definitions, services, tasks and instances.
//
// Keys are slash-separated strings; values are opaque bytes (JSON records).
// Every committed change bumps one store-wide revision, and every key carries
// the revision that last modified it, so callers can compare-and-swap and
// watchers can resume. Implementations: bolt (embedded bbolt, fsync per
// commit). Every implementation must pass storetest.Run.
//
// Values returned by Get and List belong to the caller; values handed to
// Txn are copied. Implementations are safe for concurrent use.
package store

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrNotFound is returned by Get for a key that does not exist.
	ErrNotFound = errors.New("store: key not found")
	// ErrCompacted is returned by Watch when the requested revision is older
	// than the history the store keeps; the watcher must re-list.
	ErrCompacted = errors.New("store: revision compacted")
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("store: closed")
)

// ConflictError is returned by Txn when an operation's revision condition
// does not hold. Nothing of the transaction was applied.
type ConflictError struct {
	Key  string
	Want int64 // the revision the op required (Absent: must not exist)
	Have int64 // the key's current revision (0: does not exist)
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("store: conflict on %q: want revision %d, have %d", e.Key, e.Want, e.Have)
}

// KV is one key with its value and revisions.
type KV struct {
	Key   string
	Value []byte
	// ModRevision is the store revision of the last change to this key.
	ModRevision int64
	// CreateRevision is the store revision that created this key.
	CreateRevision int64
}

// Revision conditions for Op.Want.
const (
	// Any applies the op whatever the key's current revision.
	Any int64 = -1
	// Absent applies the op only if the key does not exist.
	Absent int64 = 0
)

// OpKind says what an Op does.
type OpKind uint8

// Op kinds.
const (
	OpPut OpKind = iota + 1
	OpDelete
)

// Op is one write in a transaction. Build it with Put, PutIf, Create,
// Delete or DeleteIf.
type Op struct {
	Kind  OpKind
	Key   string
	Value []byte
	// Want is the condition on the key's current ModRevision: Any, Absent,
	// or an exact revision.
	Want int64
}

// Put writes key unconditionally.
func Put(key string, value []byte) Op { return Op{Kind: OpPut, Key: key, Value: value, Want: Any} }

// PutIf writes key only if its ModRevision is rev (compare-and-swap).
func PutIf(key string, value []byte, rev int64) Op {
	return Op{Kind: OpPut, Key: key, Value: value, Want: rev}
}

// Create writes key only if it does not exist.
func Create(key string, value []byte) Op {
	return Op{Kind: OpPut, Key: key, Value: value, Want: Absent}
}

// Delete removes key unconditionally (no error if it does not exist; such a
// delete is a no-op that neither bumps the revision nor produces an event).
func Delete(key string) Op { return Op{Kind: OpDelete, Key: key, Want: Any} }

// DeleteIf removes key only if its ModRevision is rev.
func DeleteIf(key string, rev int64) Op { return Op{Kind: OpDelete, Key: key, Want: rev} }

// EventType says whether a watched key was put or deleted.
type EventType uint8

// Event types.
const (
	EventPut EventType = iota + 1
	EventDelete
)

// Event is one change seen by a watcher. For a put, KV is the key as written.
// For a delete, KV.Value is empty, KV.CreateRevision is 0 and KV.ModRevision
// is the revision of the delete. A delete of a key that did not exist is not
// a change and produces no event.
type Event struct {
	Type EventType
	KV   KV
}

// Store is the durable key-value store.
type Store interface {
	// Get returns the key, or ErrNotFound.
	Get(ctx context.Context, key string) (KV, error)
	// List returns every key with the prefix in key order, and the store
	// revision the listing reflects (to start a Watch from).
	List(ctx context.Context, prefix string) ([]KV, int64, error)
	// Txn applies ops atomically and durably: when it returns nil, the
	// change is on disk. Every op's condition is checked against the state
	// before the transaction; if any fails it applies nothing and returns a
	// *ConflictError for the first failing op (in ops order). A successful
	// Txn that changes something bumps the store revision by exactly one
	// (all its ops share the new revision) and returns it; a Txn that
	// changes nothing (no ops, or only deletes of missing keys) leaves the
	// revision alone and returns the current one. A key may appear at most
	// once in ops, and keys must be non-empty: otherwise Txn returns an
	// error (not a ConflictError) and applies nothing. Txn copies the op
	// values, so callers may reuse them once it returns.
	Txn(ctx context.Context, ops ...Op) (int64, error)
	// Watch sends every change to keys with the prefix made after revision
	// afterRev (which must be >= 0; typically the revision from List or
	// Revision), in revision order and, within one revision, in op order,
	// until ctx ends or the store is closed (then the channel is closed). It
	// returns ErrCompacted when afterRev is older than the kept history.
	//
	// A watcher that does not keep up (its channel buffer fills) has its
	// channel closed instead of slowing writers down. So when the channel
	// closes while ctx is still live, the watcher has missed events: it must
	// re-list and watch again from the listed revision. Event values are
	// shared between watchers and must not be modified.
	Watch(ctx context.Context, prefix string, afterRev int64) (<-chan Event, error)
	// Revision returns the current store revision.
	Revision(ctx context.Context) (int64, error)
	// Close releases the store; pending watches end (their channels are
	// closed). Every later call, Close included, returns ErrClosed.
	Close() error
}

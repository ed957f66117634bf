// Package logstore is berth's durable store of container logs, in the model
// of CloudWatch Logs: log groups hold log streams, log streams hold events
// (timestamp, ingestion time, message). The agent's ingestion path appends
// batches of events; internal/logsapi serves them as CloudWatch Logs; the
// CLI reads and follows them.
//
// Logs live in their own bbolt file, apart from the state store: they are
// bulk data with their own lifetime (retention) and write rate, and must
// never slow down or bloat cluster state.
//
// # Layout
//
//	meta                         "format" = "berth-logs-1"; the bucket's
//	                             sequence is the last event sequence issued
//	groups/<group>/              one bucket per log group
//	    meta                     group record (JSON)
//	    streams/<stream>/        one bucket per log stream
//	        meta                 stream record (JSON)
//	        events/              key:   timestamp (8 bytes) | sequence (8 bytes)
//	                             value: ingestion time (uvarint) | message
//
// Keys are big-endian with the timestamp's sign bit flipped, so a cursor
// walks a stream in (timestamp, sequence) order whatever order the events
// were appended in. The sequence is store-wide and never reused (it survives
// restarts and deletions): it orders events with equal timestamps by arrival,
// makes (timestamp, sequence) a total order across the streams of a group
// (Filter merges on it), and is what Wait counts.
//
// # Durability
//
// Every Append is one bbolt transaction, fsync'd before Append returns; an
// acknowledged batch survives kill -9. Batching is the caller's job: the
// store does no group commit, so concurrent appenders each pay an fsync
// (BenchmarkAppend measures a 100-line batch).
//
// # Retention
//
// Sweep deletes events older than their group's retention: the group's
// retention policy (SetRetention, CloudWatch's PutRetentionPolicy), or
// Options.DefaultRetention (7 days unless configured) for groups without
// one. CloudWatch keeps such groups forever; berth does not by default,
// because a host's disk is not infinite. A stream whose events have all
// expired and that received none within the retention period is deleted with
// them (otherwise every task ever run leaves an empty stream behind); groups
// are never deleted by the sweep. Options.MaxStreamBytes, when set, also
// drops a stream's oldest events until it fits. Run sweeps every
// Options.SweepInterval.
//
// # Limits
//
// Messages longer than Options.MaxEventBytes (256 KiB by default,
// CloudWatch's classic event size) are split, at UTF-8 boundaries, into
// consecutive events with the same timestamp; nothing is truncated. This is
// what Docker's awslogs driver does with long lines. A page of GetEvents or
// Filter holds at most MaxPageEvents events and about MaxPageBytes bytes
// (message bytes plus 26 per event, CloudWatch's accounting).
//
// # Following
//
// Every page read returns the stream's latest sequence (Page.LastSeq);
// Wait(ctx, group, stream, seq) blocks until the stream has an event with a
// later sequence, so a follower reads, prints, and waits without polling.
package logstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Errors. Operations wrap them; test with errors.Is.
var (
	ErrGroupNotFound    = errors.New("logstore: log group does not exist")
	ErrStreamNotFound   = errors.New("logstore: log stream does not exist")
	ErrGroupExists      = errors.New("logstore: log group already exists")
	ErrStreamExists     = errors.New("logstore: log stream already exists")
	ErrInvalidName      = errors.New("logstore: invalid log group or stream name")
	ErrInvalidToken     = errors.New("logstore: invalid pagination token")
	ErrInvalidRetention = errors.New("logstore: invalid retention in days")
	ErrLocked           = errors.New("logstore: database file is locked by another process")
	ErrClosed           = errors.New("logstore: store is closed")
)

// Defaults and limits.
const (
	// DefaultRetentionPeriod is Options.DefaultRetention when left zero.
	DefaultRetentionPeriod = 7 * 24 * time.Hour
	// DefaultMaxEventBytes is Options.MaxEventBytes when left zero.
	DefaultMaxEventBytes = 256 << 10
	// DefaultSweepInterval is Options.SweepInterval when left zero.
	DefaultSweepInterval = 10 * time.Minute
	// DefaultLockTimeout is Options.LockTimeout when left zero.
	DefaultLockTimeout = time.Second
	// MaxNameBytes is the longest group or stream name (CloudWatch's limit).
	MaxNameBytes = 512
	// MaxPageEvents is the most events a page holds (and the default limit).
	MaxPageEvents = 10000
	// MaxPageBytes bounds a page: message bytes plus EventOverhead per
	// event. A page always holds at least one event.
	MaxPageBytes = 1 << 20
	// EventOverhead is what CloudWatch counts per event on top of its message.
	EventOverhead = 26
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// DefaultRetention is how long events are kept in groups that have no
	// retention policy. Zero means DefaultRetentionPeriod (7 days); a
	// negative value keeps them forever, as CloudWatch does.
	DefaultRetention time.Duration
	// MaxEventBytes is the longest message stored as one event; longer ones
	// are split into several events with the same timestamp. Zero means
	// DefaultMaxEventBytes (256 KiB). Values below 4 are raised to 4 so any
	// UTF-8 character fits.
	MaxEventBytes int
	// MaxStreamBytes caps the message bytes kept per stream: each sweep
	// drops a stream's oldest events until it fits. Zero means no cap.
	MaxStreamBytes int64
	// SweepInterval is how often Run sweeps. Zero means DefaultSweepInterval.
	SweepInterval time.Duration
	// LockTimeout is how long Open waits for the file lock before failing
	// with ErrLocked. Zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// Clock gives ingestion times and drives Run. Nil means the system clock.
	Clock Clock
	// Logger receives Run's sweep reports. Nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.DefaultRetention == 0 {
		o.DefaultRetention = DefaultRetentionPeriod
	}
	if o.MaxEventBytes == 0 {
		o.MaxEventBytes = DefaultMaxEventBytes
	}
	o.MaxEventBytes = max(o.MaxEventBytes, 4)
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Clock is the store's time source.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Group describes a log group. Times are milliseconds since the Unix epoch.
type Group struct {
	Name         string
	CreationTime int64
	// RetentionDays is the group's retention policy; 0 means none (then
	// Options.DefaultRetention applies, see Store.RetentionOf).
	RetentionDays int
	// Class is the CloudWatch log group class; empty means STANDARD.
	Class string
	Tags  map[string]string
	// StoredBytes is the sum of the stored messages' lengths (uncompressed).
	StoredBytes int64
}

// Stream describes a log stream. Times are milliseconds since the Unix
// epoch; the event times are 0 while the stream has no events.
type Stream struct {
	Name                string
	CreationTime        int64
	FirstEventTimestamp int64
	LastEventTimestamp  int64
	LastIngestionTime   int64
	StoredBytes         int64
	// Events is how many events the stream holds.
	Events int64
	// LastSeq is the sequence of the last event appended (0 if none).
	LastSeq uint64
}

// Event is one log event. Times are milliseconds since the Unix epoch.
type Event struct {
	// Timestamp is when the event happened, as the writer says.
	Timestamp int64
	// IngestionTime is when the store received it; Append sets it.
	IngestionTime int64
	Message       string
	// Seq is the event's store-wide sequence; Append sets it.
	Seq uint64
}

// groupRecord is a group's meta value.
type groupRecord struct {
	CreationTime  int64             `json:"creationTime"`
	RetentionDays int               `json:"retentionDays,omitempty"`
	Class         string            `json:"class,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	StoredBytes   int64             `json:"storedBytes"`
}

// streamRecord is a stream's meta value.
type streamRecord struct {
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp"`
	LastIngestionTime   int64  `json:"lastIngestionTime"`
	StoredBytes         int64  `json:"storedBytes"`
	Events              int64  `json:"events"`
	LastSeq             uint64 `json:"lastSeq"`
}

// Bucket and key names.
var (
	metaBucket    = []byte("meta")
	groupsBucket  = []byte("groups")
	streamsBucket = []byte("streams")
	eventsBucket  = []byte("events")
	metaKey       = []byte("meta")
	formatKey     = []byte("format")
	formatValue   = []byte("berth-logs-1")
)

// Store is a durable log store over one bbolt file. It is safe for
// concurrent use.
type Store struct {
	db    *bbolt.DB
	opts  Options
	clock Clock
	log   *slog.Logger

	// writeMu serializes writers around their bbolt transaction and the
	// notification that follows, so watchers see commits in commit order.
	writeMu sync.Mutex

	mu      sync.Mutex // guards watches and closed
	watches map[streamKey]*watch
	closed  bool
	done    chan struct{} // closed by Close

	// filterScanLimit bounds the events one Filter call examines.
	filterScanLimit int
	// sweepChunk bounds the events one sweep transaction deletes.
	sweepChunk int
}

// Open opens (creating if needed) the log store at path.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:        opts.LockTimeout,
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open log store %s: %w (waited %s): %w", path, ErrLocked, opts.LockTimeout, err)
		}
		return nil, fmt.Errorf("open log store %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		switch f := meta.Get(formatKey); {
		case f == nil:
			if err := meta.Put(formatKey, formatValue); err != nil {
				return err
			}
		case string(f) != string(formatValue):
			return fmt.Errorf("unknown format %q (want %q)", f, formatValue)
		}
		_, err = tx.CreateBucketIfNotExists(groupsBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open log store %s: %w", path, err)
	}
	return &Store{
		db:              db,
		opts:            opts,
		clock:           opts.Clock,
		log:             opts.Logger.With("component", "logstore"),
		watches:         map[streamKey]*watch{},
		done:            make(chan struct{}),
		filterScanLimit: defaultFilterScanLimit,
		sweepChunk:      defaultSweepChunk,
	}, nil
}

// Close wakes every Wait with ErrClosed and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close log store: %w", err)
	}
	return nil
}

// ValidRetentionDays reports whether days is a retention CloudWatch accepts.
func ValidRetentionDays(days int) bool {
	return slices.Contains(RetentionDays(), days)
}

// RetentionDays returns the retention values CloudWatch accepts, ascending.
func RetentionDays() []int {
	return []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
}

// RetentionOf returns how long g's events are kept: its retention policy,
// else Options.DefaultRetention; 0 means forever.
func (s *Store) RetentionOf(g Group) time.Duration {
	if g.RetentionDays > 0 {
		return time.Duration(g.RetentionDays) * 24 * time.Hour
	}
	if s.opts.DefaultRetention < 0 {
		return 0
	}
	return s.opts.DefaultRetention
}

func checkName(name string) error {
	if name == "" || len(name) > MaxNameBytes {
		return fmt.Errorf("%w: %q must be 1-%d bytes", ErrInvalidName, name, MaxNameBytes)
	}
	return nil
}

// CreateGroup creates a log group from g's Name, RetentionDays, Class and
// Tags. It fails with ErrGroupExists if the group exists.
func (s *Store) CreateGroup(ctx context.Context, g Group) error {
	if err := checkName(g.Name); err != nil {
		return err
	}
	if g.RetentionDays != 0 && !ValidRetentionDays(g.RetentionDays) {
		return fmt.Errorf("create log group %s: %w: %d", g.Name, ErrInvalidRetention, g.RetentionDays)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.clock.Now().UnixMilli()
	return s.update(func(tx *bbolt.Tx) error {
		groups := tx.Bucket(groupsBucket)
		if groups.Bucket([]byte(g.Name)) != nil {
			return fmt.Errorf("create log group %s: %w", g.Name, ErrGroupExists)
		}
		rec := groupRecord{CreationTime: now, RetentionDays: g.RetentionDays, Class: g.Class, Tags: g.Tags}
		_, err := createGroupLocked(groups, g.Name, rec)
		return err
	}, nil)
}

// createGroupLocked creates group bucket name with rec in a write transaction.
func createGroupLocked(groups *bbolt.Bucket, name string, rec groupRecord) (*bbolt.Bucket, error) {
	gb, err := groups.CreateBucket([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("create log group %s: %w", name, err)
	}
	if _, err := gb.CreateBucket(streamsBucket); err != nil {
		return nil, fmt.Errorf("create log group %s: %w", name, err)
	}
	if err := putJSON(gb, metaKey, rec); err != nil {
		return nil, fmt.Errorf("create log group %s: %w", name, err)
	}
	return gb, nil
}

// CreateStream creates a log stream in an existing group. It fails with
// ErrGroupNotFound or ErrStreamExists.
func (s *Store) CreateStream(ctx context.Context, group, stream string) error {
	if err := checkName(group); err != nil {
		return err
	}
	if err := checkName(stream); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.clock.Now().UnixMilli()
	return s.update(func(tx *bbolt.Tx) error {
		gb := tx.Bucket(groupsBucket).Bucket([]byte(group))
		if gb == nil {
			return fmt.Errorf("create log stream %s/%s: %w", group, stream, ErrGroupNotFound)
		}
		if gb.Bucket(streamsBucket).Bucket([]byte(stream)) != nil {
			return fmt.Errorf("create log stream %s/%s: %w", group, stream, ErrStreamExists)
		}
		_, err := createStreamLocked(gb, group, stream, streamRecord{CreationTime: now})
		return err
	}, nil)
}

// createStreamLocked creates stream bucket name in group bucket gb.
func createStreamLocked(gb *bbolt.Bucket, group, stream string, rec streamRecord) (*bbolt.Bucket, error) {
	sb, err := gb.Bucket(streamsBucket).CreateBucket([]byte(stream))
	if err != nil {
		return nil, fmt.Errorf("create log stream %s/%s: %w", group, stream, err)
	}
	if _, err := sb.CreateBucket(eventsBucket); err != nil {
		return nil, fmt.Errorf("create log stream %s/%s: %w", group, stream, err)
	}
	if err := putJSON(sb, metaKey, rec); err != nil {
		return nil, fmt.Errorf("create log stream %s/%s: %w", group, stream, err)
	}
	return sb, nil
}

// DeleteGroup deletes a log group with all its streams and events.
func (s *Store) DeleteGroup(ctx context.Context, group string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.update(func(tx *bbolt.Tx) error {
		groups := tx.Bucket(groupsBucket)
		if group == "" || groups.Bucket([]byte(group)) == nil {
			return fmt.Errorf("delete log group %s: %w", group, ErrGroupNotFound)
		}
		return groups.DeleteBucket([]byte(group))
	}, func() { s.resetWatches(group, "") })
}

// DeleteStream deletes a log stream with its events.
func (s *Store) DeleteStream(ctx context.Context, group, stream string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.update(func(tx *bbolt.Tx) error {
		gb, sb, err := openStream(tx, group, stream)
		if err != nil {
			return fmt.Errorf("delete log stream %s/%s: %w", group, stream, err)
		}
		st, err := readStream(sb)
		if err != nil {
			return err
		}
		if err := gb.Bucket(streamsBucket).DeleteBucket([]byte(stream)); err != nil {
			return err
		}
		return addGroupBytes(gb, -st.StoredBytes)
	}, func() { s.resetWatches(group, stream) })
}

// SetRetention sets a group's retention policy in days; 0 removes it.
func (s *Store) SetRetention(ctx context.Context, group string, days int) error {
	if days != 0 && !ValidRetentionDays(days) {
		return fmt.Errorf("set retention of %s: %w: %d", group, ErrInvalidRetention, days)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.update(func(tx *bbolt.Tx) error {
		gb := openGroup(tx, group)
		if gb == nil {
			return fmt.Errorf("set retention of %s: %w", group, ErrGroupNotFound)
		}
		g, err := readGroup(gb)
		if err != nil {
			return err
		}
		g.RetentionDays = days
		return putJSON(gb, metaKey, g)
	}, nil)
}

// Group returns one log group.
func (s *Store) Group(ctx context.Context, group string) (Group, error) {
	if err := ctx.Err(); err != nil {
		return Group{}, err
	}
	var out Group
	err := s.view(func(tx *bbolt.Tx) error {
		gb := openGroup(tx, group)
		if gb == nil {
			return fmt.Errorf("log group %s: %w", group, ErrGroupNotFound)
		}
		rec, err := readGroup(gb)
		out = rec.group(group)
		return err
	})
	return out, err
}

// Groups returns the groups whose names start with prefix, by name.
func (s *Store) Groups(ctx context.Context, prefix string) ([]Group, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Group
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(groupsBucket).Cursor()
		for k, _ := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, _ = c.Next() {
			rec, err := readGroup(tx.Bucket(groupsBucket).Bucket(k))
			if err != nil {
				return err
			}
			out = append(out, rec.group(string(k)))
		}
		return nil
	})
	return out, err
}

// Stream returns one log stream.
func (s *Store) Stream(ctx context.Context, group, stream string) (Stream, error) {
	if err := ctx.Err(); err != nil {
		return Stream{}, err
	}
	var out Stream
	err := s.view(func(tx *bbolt.Tx) error {
		_, sb, err := openStream(tx, group, stream)
		if err != nil {
			return fmt.Errorf("log stream %s/%s: %w", group, stream, err)
		}
		rec, err := readStream(sb)
		out = rec.stream(stream)
		return err
	})
	return out, err
}

// StreamOrder is the order Streams returns streams in.
type StreamOrder int

const (
	// ByName orders by stream name.
	ByName StreamOrder = iota
	// ByLastEventTime orders by the last event's timestamp, then name.
	ByLastEventTime
)

// Streams returns the streams of group whose names start with prefix, in
// the given order (ascending unless descending).
func (s *Store) Streams(ctx context.Context, group, prefix string, order StreamOrder, descending bool) ([]Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Stream
	err := s.view(func(tx *bbolt.Tx) error {
		gb := openGroup(tx, group)
		if gb == nil {
			return fmt.Errorf("log streams of %s: %w", group, ErrGroupNotFound)
		}
		streams := gb.Bucket(streamsBucket)
		c := streams.Cursor()
		for k, _ := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, _ = c.Next() {
			rec, err := readStream(streams.Bucket(k))
			if err != nil {
				return err
			}
			out = append(out, rec.stream(string(k)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if order == ByLastEventTime {
		slices.SortStableFunc(out, func(a, b Stream) int {
			if a.LastEventTimestamp != b.LastEventTimestamp {
				return cmpInt(a.LastEventTimestamp, b.LastEventTimestamp)
			}
			return strings.Compare(a.Name, b.Name)
		})
	}
	if descending {
		slices.Reverse(out)
	}
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// update runs fn in a write transaction under writeMu and, once it has
// committed, after (if not nil).
func (s *Store) update(fn func(*bbolt.Tx) error, after func()) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.db.Update(fn); err != nil {
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		return err
	}
	if after != nil {
		after()
	}
	return nil
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(*bbolt.Tx) error) error {
	if err := s.db.View(fn); err != nil {
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		return err
	}
	return nil
}

func openGroup(tx *bbolt.Tx, group string) *bbolt.Bucket {
	if group == "" {
		return nil
	}
	return tx.Bucket(groupsBucket).Bucket([]byte(group))
}

func openStream(tx *bbolt.Tx, group, stream string) (gb, sb *bbolt.Bucket, err error) {
	gb = openGroup(tx, group)
	if gb == nil {
		return nil, nil, ErrGroupNotFound
	}
	if stream != "" {
		sb = gb.Bucket(streamsBucket).Bucket([]byte(stream))
	}
	if sb == nil {
		return gb, nil, ErrStreamNotFound
	}
	return gb, sb, nil
}

func readGroup(gb *bbolt.Bucket) (groupRecord, error) {
	var g groupRecord
	if err := json.Unmarshal(gb.Get(metaKey), &g); err != nil {
		return g, fmt.Errorf("decode log group record: %w", err)
	}
	return g, nil
}

func readStream(sb *bbolt.Bucket) (streamRecord, error) {
	var st streamRecord
	if err := json.Unmarshal(sb.Get(metaKey), &st); err != nil {
		return st, fmt.Errorf("decode log stream record: %w", err)
	}
	return st, nil
}

func addGroupBytes(gb *bbolt.Bucket, delta int64) error {
	if delta == 0 {
		return nil
	}
	g, err := readGroup(gb)
	if err != nil {
		return err
	}
	g.StoredBytes = max(g.StoredBytes+delta, 0)
	return putJSON(gb, metaKey, g)
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func (g groupRecord) group(name string) Group {
	return Group{
		Name:          name,
		CreationTime:  g.CreationTime,
		RetentionDays: g.RetentionDays,
		Class:         g.Class,
		Tags:          g.Tags,
		StoredBytes:   g.StoredBytes,
	}
}

func (r streamRecord) stream(name string) Stream {
	return Stream{
		Name:                name,
		CreationTime:        r.CreationTime,
		FirstEventTimestamp: r.FirstEventTimestamp,
		LastEventTimestamp:  r.LastEventTimestamp,
		LastIngestionTime:   r.LastIngestionTime,
		StoredBytes:         r.StoredBytes,
		Events:              r.Events,
		LastSeq:             r.LastSeq,
	}
}

// Event keys: timestamp with the sign bit flipped, then sequence, both
// big-endian, so byte order is (timestamp, sequence) order.

const keyLen = 16

type eventKey [keyLen]byte

func makeKey(ts int64, seq uint64) eventKey {
	var k eventKey
	binary.BigEndian.PutUint64(k[:8], uint64(ts)^(1<<63))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func keyFromBytes(b []byte) eventKey {
	var k eventKey
	copy(k[:], b)
	return k
}

func (k eventKey) ts() int64   { return int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63)) }
func (k eventKey) seq() uint64 { return binary.BigEndian.Uint64(k[8:]) }

// succ returns the key right after k (k itself if k is the largest).
func (k eventKey) succ() eventKey {
	out := k
	for i := keyLen - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			return out
		}
	}
	return k
}

// pred returns the key right before k (k itself if k is the smallest).
func (k eventKey) pred() eventKey {
	out := k
	for i := keyLen - 1; i >= 0; i-- {
		out[i]--
		if out[i] != 0xff {
			return out
		}
	}
	return k
}

func keyTS(b []byte) int64 { return int64(binary.BigEndian.Uint64(b[:8]) ^ (1 << 63)) }

// decodeValue splits an event value into ingestion time and message.
func decodeValue(v []byte) (ingestion int64, msg []byte, err error) {
	it, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, nil, errors.New("logstore: corrupt event value")
	}
	return int64(it), v[n:], nil
}

func decodeEvent(k, v []byte) (Event, error) {
	it, msg, err := decodeValue(v)
	if err != nil {
		return Event{}, err
	}
	key := keyFromBytes(k)
	return Event{Timestamp: key.ts(), IngestionTime: it, Message: string(msg), Seq: key.seq()}, nil
}

// Package clusterstate keeps the store's ECS records in memory, indexed for
// the questions the API, the scheduler and the controllers ask on every
// decision (the tasks of one instance, the task groups on every instance,
// a service's running and pending counts), so a cluster of 5,000 instances
// and 150,000 tasks is served without scanning the store each time.
//
// The store stays the source of truth. The cache is fed by the store's
// watch, and every record it returns carries its ModRevision, so a
// decision made on the cache commits with a compare-and-swap
// (store.PutIf) that fails, rather than acts on stale data, if the cache
// was behind.
//
//	                       store.Store (bolt)
//	        List("ecs/") │                   │ Watch("ecs/", rev)
//	                     ▼                   ▼
//	  buildIndex: decode on every   applier (Run): take ≤256 ready events,
//	  CPU into a new index, aside   decode them, apply them under mu.Lock,
//	                     │          then release WaitFor callers
//	     swap under      │                   │
//	     mu.Lock         ▼                   ▼
//	┌───────────────────────── index ──────────────────────────────┐
//	│ clusters by name; task definitions by key                    │
//	│ per cluster:                                                 │
//	│   instances   by ID, by ARN, and a sorted list               │
//	│   services    by name, and a sorted list                     │
//	│   tasks       by ID                                          │
//	│   onInstance  instance ARN → live tasks (sorted snapshot)    │
//	│                              + task group counts (snapshot)  │
//	│   groups      group → lastStatus → tasks; counts, and counts │
//	│               by startedBy (deployment)                      │
//	│   counts      ClusterCounts                                  │
//	└──────────────────────────────────────────────────────────────┘
//	                     ▲ mu.RLock: one lookup, copy out, unlock
//	        ecsapi, scheduler, service controller
//
// Run's life:
//
//	        ┌─────────┐ indexed, swapped in; ┌───────────┐
//	Run ───▶│ listing │──── Watch from the ─▶│ following │──▶ ctx done: nil
//	        └─────────┘   listed revision    └─────┬─────┘
//	          ▲   │ Watch: ErrCompacted            │ watch channel closed
//	          │   │ (history moved on)             │ (dropped as a slow
//	          └───┴────────────────────────────────┘  watcher)
//	        store error, undecodable record: Run returns it
//
// # Consistency
//
//   - A listing is one read transaction, so an index built from it is the
//     store at exactly the listed revision. It is built aside and swapped
//     in whole: readers never see a half-built index. While the cache
//     re-lists they keep reading the previous index (whole, but stale).
//   - Events are applied in revision order, in batches under one write
//     lock, so a reader sees the state after a prefix of the store's
//     history, and the state only moves forward (Revision never
//     decreases). The store hands a Txn's events over one by one, so a
//     batch may end inside a Txn: for an instant a reader may see some of
//     a Txn's ops and not the rest. Writers therefore compare-and-swap on
//     the revisions they read.
//   - WaitFor(ctx, rev) is read-your-writes: when it returns, every change
//     at or before rev — every op of each Txn, whole — is visible to this
//     and every later read. rev should be one a Txn returned.
//   - Ready is closed once the first listing is indexed; before that every
//     accessor answers as for an empty store.
//
// # Concurrency
//
// Many readers, one applier, one sync.RWMutex. Readers hold the read lock
// for one lookup and the copy of its result; the applier decodes a batch
// before taking the write lock and holds it only to index the batch. The
// per-instance task lists and group counts, read on every agent poll and
// every placement, are copy-on-write snapshots, so those accessors return
// without copying. Copy-on-write of the whole index was rejected: one
// task update would copy maps of 150,000 entries, and a persistent map
// would slow every read.
//
// Everything an accessor returns — records, slices, maps — may be shared
// with the cache and other callers and must not be modified; see the
// accessors for which results are fresh copies and which are snapshots.
//
// See README.md for the figures.
package clusterstate

// Package lb is the data plane of berth's built-in application load
// balancer: HTTP and HTTPS listeners, ELBv2-style listener rules, weighted target
// groups, active health checks and connection draining. It has no API of its
// own; the control plane builds a Config and calls Apply, and the deployment
// controller reads TargetHealth.
//
//	client ──► listener (bind:port, kept across Apply; HTTPS: TLS with the
//	              │         certificate SNI picks, read atomically per handshake)
//	              │  table := atomic.Pointer[table].Load()   (lock-free)
//	              ▼
//	           routes: rules by priority ──► host/path glob match
//	              │                      └─► default action
//	              ▼
//	           action: fixed response | forward ──► weighted pick of a group
//	              ▼
//	           group.pick: round_robin | least_outstanding_requests
//	              │  over routable targets (healthy, else unhealthy: fail open)
//	              ▼
//	           retryTransport ──► pooled http.Transport ──► target ip:port
//	              └─ refused/reset before any response byte, replayable body:
//	                 try another target
//
// Apply follows house rule 16: it binds new listeners and builds the new
// route tables first, swaps them in with one atomic store, and only then
// shuts down listeners that are gone. Target groups and targets that stay
// keep their health state and in-flight counters.
//
// Target states (as ELBv2 reports them):
//
//	            HealthyThreshold passes
//	initial ─────────────────────────────► healthy
//	   │                                   │    ▲
//	   │ UnhealthyThreshold failures       │    │ HealthyThreshold passes
//	   └──────────────► unhealthy ◄────────┘    │
//	                        └───────────────────┘
//	any ── removed by Apply ──► draining ── no request in flight ──► gone
//	                               └──── DeregistrationDelay ─────► gone
//	                                     (in-flight requests cancelled)
//	(a target of a group no listener forwards to is reported "unused")
//
// As in ELB, a draining target is forgotten as soon as it has no request in
// flight (at once if it had none), so a target absent from TargetHealth is
// drained and its task may be stopped.
//
// A new target is checked as soon as it is registered, so with the
// defaults (interval 1 s, healthy threshold 2) it receives traffic about 1 s
// after it starts answering. Health checks run in Run; scheduling, draining
// and slow start use the injected Clock. A newly healthy target in a group
// with SlowStart set takes a share of round-robin traffic that grows
// linearly over that period.
package lb

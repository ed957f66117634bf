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
//	              │  over routable targets (healthy, else all not draining: fail open)
//	              ▼
//	           forward ──► the target's pool of keep-alive connections ──► ip:port
//	              └─ refused/reset before any response byte, replayable body:
//	                 try another target (a stale pooled connection: the next one)
//
// The HTTP/1.1 path is the proxy's own (h1.go, server.go, proxy.go), not
// net/http's server and ReverseProxy: one goroutine per client connection
// reads a request head into a reused buffer, parses it without allocating
// per field, writes the rewritten head (hop-by-hop fields dropped,
// X-Forwarded-For/Proto/Port set) and body to a pooled upstream connection,
// and streams the response back, re-stating its framing (Content-Length,
// chunked, or close-delimited; chunked is de-chunked for HTTP/1.0 clients).
// Requests are served one at a time per connection, so pipelining is safe.
// Bodies up to 64 KiB with a Content-Length are buffered so a retry can
// replay them; larger and chunked ones stream on a fresh connection.
// Expect: 100-continue is answered by the proxy itself when it is about to
// read the body. 101 Switching Protocols turns the exchange into a tunnel.
// Malformed requests get 400, oversized heads 431, unsupported transfer
// codings 501; upstream failures 502 (504 on timeouts).
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

package runtime

import "time"

// HealthTracker folds health check results into a Health the way Docker's
// HEALTHCHECK does, for runtimes that run checks themselves. It is not safe
// for concurrent use.
type HealthTracker struct {
	retries     int
	startPeriod time.Duration
	startedAt   time.Time
	status      Health
	failures    int
}

// NewHealthTracker starts tracking a container that started at startedAt
// with health check hc (defaults applied, see ContainerSpec.WithDefaults).
func NewHealthTracker(hc HealthCheck, startedAt time.Time) *HealthTracker {
	return &HealthTracker{
		retries:     max(hc.Retries, 1),
		startPeriod: hc.StartPeriod,
		startedAt:   startedAt,
		status:      HealthUnknown,
	}
}

// Record adds the result of the check that began at checkStart and returns
// the status after it. A pass makes the container HEALTHY. A failure counts
// towards Retries unless the container has never been healthy and the check
// began within the start period.
func (h *HealthTracker) Record(passed bool, checkStart time.Time) Health {
	if passed {
		h.failures = 0
		h.status = HealthHealthy
		return h.status
	}
	if h.status == HealthUnknown && checkStart.Sub(h.startedAt) < h.startPeriod {
		return h.status
	}
	h.failures++
	if h.failures >= h.retries {
		h.status = HealthUnhealthy
	}
	return h.status
}

// Status is the current status.
func (h *HealthTracker) Status() Health { return h.status }

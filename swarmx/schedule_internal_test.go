package swarmx

import (
	"testing"
	"time"
)

// The next run shown by status is computed in UTC, like the scheduler computes it, whatever
// the deploy machine's time zone.
func TestScheduledRunIsUTC(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	now := time.Date(2026, 11, 25, 2, 30, 0, 0, paris) // 01:30 UTC
	st := &ServiceStatus{Schedule: "0 0 3 * * *", LastRun: "2026-11-24T03:00:00Z", NextRun: "2026-11-25T00:00:00Z"}
	scheduledRun(st, TaskSummary{}, now)
	if st.NextRun != "2026-11-25T03:00:00Z" {
		t.Errorf("next run = %s, want 2026-11-25T03:00:00Z (03:00 UTC)", st.NextRun)
	}
}

// A scheduled job that never ran yet shows its first run, not an empty one.
func TestScheduledRunBeforeTheFirst(t *testing.T) {
	now := time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)
	st := &ServiceStatus{Schedule: "0 0 3 * * *"}
	scheduledRun(st, TaskSummary{}, now)
	if st.NextRun != "2026-11-25T03:00:00Z" {
		t.Errorf("next run = %q, want 2026-11-25T03:00:00Z", st.NextRun)
	}
}

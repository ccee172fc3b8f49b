package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/schedrun"
	"github.com/kalisio/kargo/services/scheduler"
)

func TestHealth(t *testing.T) {
	dir := t.TempDir()
	hb := filepath.Join(dir, "heartbeat")
	now := time.Now()
	if err := health(hb, now); err == nil {
		t.Error("healthy without a heartbeat file")
	}
	if err := os.WriteFile(hb, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		age     time.Duration
		healthy bool
	}{
		{0, true},
		// The run loop sleeps at most MaxHeartbeatInterval; two missed beats are tolerated.
		{schedrun.MaxHeartbeatInterval, true},
		{2*schedrun.MaxHeartbeatInterval + 5*time.Second, true},
		{staleAfter + time.Second, false},
		{10 * time.Minute, false},
	} {
		if err := os.Chtimes(hb, now.Add(-c.age), now.Add(-c.age)); err != nil {
			t.Fatal(err)
		}
		if err := health(hb, now); (err == nil) != c.healthy {
			t.Errorf("heartbeat %s old: health error %v, want healthy=%v", c.age, err, c.healthy)
		}
	}
}

// The health threshold leaves room for the longest sleep of the run loop plus the interval
// of Swarm's health check (10 s, see scheduler.New).
func TestHealthThresholdCoversTheLongestSleep(t *testing.T) {
	interval := scheduler.New(scheduler.Config{}).Service.Health.Interval
	if staleAfter < schedrun.MaxHeartbeatInterval+interval {
		t.Errorf("stale after %s, but the loop may sleep %s between beats and the check runs every %s",
			staleAfter, schedrun.MaxHeartbeatInterval, interval)
	}
}

// The image is FROM scratch, with no /usr/share/zoneinfo: the binary must embed the time
// zone database for CRON_TZ= schedules.
func TestEmbedsTheTimeZoneDatabase(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains("\n"+string(out), "\ntime/tzdata\n") {
		t.Error("kargo-scheduler does not import time/tzdata: CRON_TZ= schedules fail in its FROM scratch image")
	}
}

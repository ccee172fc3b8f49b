package kargo

import (
	"testing"

	"github.com/kalisio/kargo/swarmx"
)

func TestProbeHost(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "127.0.0.1",
		"unix:///var/run/docker.sock": "127.0.0.1",
		"tcp://10.199.0.1:2376":       "10.199.0.1",
		"ssh://admin@manager-1":       "manager-1",
		"npipe:////./pipe/docker":     "127.0.0.1",
	} {
		if got := probeHost(in); got != want {
			t.Errorf("probeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// The LAST RUN cell of status: parts that are missing leave no stray spaces.
func TestLastRunText(t *testing.T) {
	const last, next = "2026-11-24T03:00:00Z", "2026-11-25T03:00:00Z"
	for _, c := range []struct {
		name string
		in   swarmx.ServiceStatus
		want string
	}{
		{"not scheduled", swarmx.ServiceStatus{LastRun: last}, ""},
		{"ran", swarmx.ServiceStatus{Schedule: "@daily", LastRun: last, LastResult: "succeeded", NextRun: next},
			last + " succeeded (next " + next + ")"},
		{"never ran", swarmx.ServiceStatus{Schedule: "@daily", NextRun: next}, "not yet (next " + next + ")"},
		{"never ran, no next run", swarmx.ServiceStatus{Schedule: "@daily"}, "not yet"},
		{"no result", swarmx.ServiceStatus{Schedule: "@daily", LastRun: last, NextRun: next}, last + " (next " + next + ")"},
		{"ran, no next run", swarmx.ServiceStatus{Schedule: "@daily", LastRun: last, LastResult: "failed"}, last + " failed"},
	} {
		if got := lastRunText(c.in); got != c.want {
			t.Errorf("%s: lastRunText = %q, want %q", c.name, got, c.want)
		}
	}
}

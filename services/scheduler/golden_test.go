package scheduler_test

import (
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/internal/socketproxy"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: the scheduler and its socket proxy render to exactly what they rendered to
// before (internal/golden), with the default config and with every field set.
func TestGolden(t *testing.T) {
	golden.Check(t, "scheduler-default", stack.New("golden", scheduler.New(scheduler.Config{})), swarmx.Source{})
	rich := scheduler.New(scheduler.Config{
		Common: builder.Common{
			Name:      "cron",
			Image:     "example/scheduler:1",
			Resources: stack.Resources{CPULimit: 0.5, MemoryLimit: 128 * stack.MiB, CPUReservation: 0.05, MemoryReservation: 32 * stack.MiB},
		},
		ProxyImage: "example/socket-proxy:1", Refresh: 2 * time.Second,
	})
	golden.Check(t, "scheduler-rich", stack.New("golden", rich), swarmx.Source{})
	proxy := scheduler.Proxy(scheduler.ProxyConfig{Common: builder.Common{Name: "discovery", Image: "example/socket-proxy:1", Resources: stack.Resources{CPULimit: 0.2, MemoryLimit: 64 * stack.MiB}}, Network: "discovery-engine",
		Profile: socketproxy.ProfileDiscovery})
	golden.Check(t, "scheduler-proxy", stack.New("golden", proxy), swarmx.Source{})
}

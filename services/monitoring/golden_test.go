package monitoring_test

import (
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/monitoring"
	"github.com/kalisio/kargo/services/pgbackup"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: a bare and a fully configured monitoring render to exactly what they
// rendered to before (internal/golden).
func TestGolden(t *testing.T) {
	golden.Check(t, "monitoring-default", stack.New("golden", monitoring.New(monitoring.Config{})), swarmx.Source{})
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis", User: "gis"})
	backup := pgbackup.New(pgbackup.Config{Database: db})
	web := &stack.Service{Name: "web", Image: "nginx", Endpoints: []stack.Endpoint{{Kind: stack.HTTP, Port: 80, Path: "/"}}}
	mon := monitoring.New(monitoring.Config{
		Common: builder.Common{Name: "prom", Image: "kargo/monitoring:test", Env: map[string]string{"TZ": "UTC"},
			Placement: stack.Placement{Constraints: []string{"node.role==manager"}},
			Resources: stack.Resources{CPULimit: 1, MemoryLimit: stack.GiB}},
		Database: db, Watch: []*stack.Service{web}, Gateway: "gateway", Backup: backup,
		ScrapeInterval: 30 * time.Second, Retention: 48 * time.Hour, Volume: "prom-store",
	})
	st := stack.New("golden", db, backup, web)
	mon.AddTo(st)
	golden.Check(t, "monitoring-rich", st, swarmx.Source{})
}

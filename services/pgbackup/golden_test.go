package pgbackup_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/pgbackup"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: a default and a fully configured backup job render to exactly what they
// rendered to before (internal/golden).
func TestGolden(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
	golden.Check(t, "pgbackup-default", stack.New("golden", db, pgbackup.New(pgbackup.Config{Database: db})), swarmx.Source{})
	job := pgbackup.New(pgbackup.Config{
		Common: builder.Common{Name: "nightly", Image: "kargo/postgis:test", Replicas: 1,
			Env:       map[string]string{"TZ": "UTC"},
			Placement: stack.Placement{Constraints: []string{"node.role==manager"}},
			Resources: stack.Resources{CPULimit: 1, MemoryLimit: 512 * stack.MiB}},
		Database: db, Schedule: "0 30 1 * * *", Volume: "dumps", Keep: 3, KeepDays: 10,
	})
	golden.Check(t, "pgbackup-rich", stack.New("golden", db, job), swarmx.Source{})
}

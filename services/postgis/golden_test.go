package postgis_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: the default and a fully configured PostGIS service render to exactly what
// they rendered to before (internal/golden).
func TestGolden(t *testing.T) {
	golden.Check(t, "postgis-default", stack.New("golden", postgis.New(postgis.Config{})), swarmx.Source{})
	db := postgis.New(postgis.Config{
		Common: builder.Common{Name: "db", Image: "postgis/postgis:15-3.3", Replicas: 1,
			Env:       map[string]string{"TZ": "UTC"},
			Placement: stack.Placement{Constraints: []string{"node.labels.db==true"}},
			Resources: stack.Resources{CPULimit: 2, MemoryLimit: 2 * stack.GiB},
			Networks:  []string{"backend"}},
		Database: "gis", User: "kargo",
		Password: &stack.Secret{Name: "gis-password", Data: []byte("golden-password")},
		Volume:   "gis-data", InitSQL: "CREATE TABLE roads (id int);",
		Init: []postgis.InitFile{{Name: "20_data.sql", Data: []byte("SELECT 1;")},
			{Name: "30_file.sql", File: "testdata/init.sql"}},
		SharedBuffers: "256MB", WorkMem: "16MB", MaxConnections: 50,
		Settings: map[string]string{"log_min_duration_statement": "500"},
	})
	st := stack.New("golden", db)
	st.Networks = []stack.Network{{Name: "backend"}}
	golden.Check(t, "postgis-rich", st, swarmx.Source{})
}

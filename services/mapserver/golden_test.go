package mapserver_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: a minimal and a fully configured MapServer service render to exactly what
// they rendered to before (internal/golden).
func TestGolden(t *testing.T) {
	raster := mapserver.Map{Name: "dem", Layers: []mapserver.Layer{{Name: "dem", Type: mapserver.Raster, File: "/etc/mapserver/dem.tif"}}}
	golden.Check(t, "mapserver-default", stack.New("golden", mapserver.New(mapserver.Config{Maps: []mapserver.Map{raster}})), swarmx.Source{})

	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
	roads := mapserver.Map{Name: "roads", Title: "Roads", Layers: []mapserver.Layer{
		{Name: "roads", Type: mapserver.Line, Table: "roads", Classes: []mapserver.Class{{Color: "#ff0000"}}},
	}}
	ms := mapserver.New(mapserver.Config{
		Common: builder.Common{Name: "maps", Image: "kargo/mapserver:test", Replicas: 3,
			Env:       map[string]string{"MS_DEBUGLEVEL": "1"},
			Placement: stack.Placement{Constraints: []string{"node.role==worker"}, MaxReplicasPerNode: 1},
			Resources: stack.Resources{CPULimit: 2, MemoryLimit: stack.GiB},
			Networks:  []string{"backend"}},
		Mapfiles: mapserver.ReadDir("testdata/maps"), Maps: []mapserver.Map{roads, raster},
		Layers: []string{"a"}, OGCAPI: true, Database: db,
		Files: []mapserver.File{
			{Target: "/etc/mapserver/dem.tif", Data: []byte("tif")},
			{Target: "/docker-entrypoint.d/10-x.sh", Data: []byte("echo")},
			{Target: "/etc/mapserver/fonts.txt", Source: "testdata/maps/symbols.sym", Mode: 0o440},
		},
		PublishedPort: 18081, MinProcesses: 2, MaxProcesses: 4,
	})
	st := stack.New("golden", db, ms)
	st.Networks = []stack.Network{{Name: "backend"}}
	golden.Check(t, "mapserver-rich", st, swarmx.Source{})
}

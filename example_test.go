package kargo_test

import (
	"fmt"
	"testing"

	"github.com/kalisio/kargo/kargotest"
	"github.com/stretchr/testify/assert"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/mapcache"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// maps is the stack of the README: PostGIS, two MapServer replicas serving a roads layer
// from it, MapCache tiling the roads, and the gateway in front. A deploy program's main
// is then one line: kargo.Main(maps()).
func maps() *stack.Stack {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis", Volume: "pgdata"})
	ms := mapserver.New(mapserver.Config{
		Common:   builder.Common{Name: "mapserver", Replicas: 2},
		Database: db,
		Maps: []mapserver.Map{{Name: "roads", Extent: mapserver.Extent{-5, 41, 10, 52}, Layers: []mapserver.Layer{{
			Name: "roads", Type: mapserver.Line, Table: "roads",
			Classes: []mapserver.Class{{Name: "road", Color: "#2b83ba", Width: 2}},
		}}}}})
	tiles := mapcache.New(mapcache.Config{Common: builder.Common{Name: "tiles"}, Source: ms, Layers: []string{"roads"}})
	gw := gateway.New(gateway.Config{HTTPPort: 8080, Routes: gateway.OGC(ms, tiles)})
	return stack.New("maps", db, ms, tiles, gw)
}

// Example renders the README's stack without an engine, as `go run . render` would.
func Example() {
	d, err := swarmx.Render(maps(), swarmx.Source{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range d.Services {
		fmt.Printf("%s %s replicas=%d\n", s.Name, s.Spec.TaskTemplate.ContainerSpec.Image, s.Replicas())
	}
	gw, _ := d.Service("gateway")
	for _, ep := range gw.Endpoints {
		fmt.Printf("gateway %s %s\n", ep.Kind, ep.Path)
	}
	// Output:
	// maps_db kargo/postgis:15-3.3 replicas=1
	// maps_mapserver kargo/mapserver:8.0 replicas=2
	// maps_tiles kargo/mapcache:1.14 replicas=1
	// maps_gateway kargo/gateway:2.6 replicas=1
	// gateway HTTP /healthz
	// gateway WMS /wms
	// gateway WFS /wfs
	// gateway WCS /wcs
	// gateway WMTS /wmts
	// gateway XYZ /xyz
}

// TestMaps is the README's unit test of the stack, compiled and run.
func TestMaps(t *testing.T) {
	svc := kargotest.Render(t, maps()).Service("mapserver")
	assert.Equal(t, uint64(2), svc.Replicas())
}

package mapcache_test

import (
	"fmt"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/mapcache"
	"github.com/kalisio/kargo/stack"
)

// A tile cache in front of a MapServer service, with a seeding job for levels 0 to 8 over
// France.
func ExampleNew() {
	ms := &stack.Service{Name: "mapserver", Image: "kargo/mapserver:8.0", Endpoints: []stack.Endpoint{
		{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms"},
	}}
	tiles := mapcache.New(mapcache.Config{
		Common: builder.Common{Name: "tiles"},
		Source: ms, Layers: []string{"roads"},
		Grids: []mapcache.Grid{mapcache.GoogleMapsCompatible, mapcache.WGS84},
		Seed:  &mapcache.Seed{BBox: [4]float64{-5.2, 41.3, 9.6, 51.1}, MinZoom: 0, MaxZoom: 8},
	})
	st := stack.New("maps", ms, tiles)
	fmt.Println(st.Validate())
	for _, ep := range tiles.Service.Endpoints {
		fmt.Printf("%s %s public=%q\n", ep.Kind, ep.Path, ep.Public)
	}
	fmt.Println(tiles.Seed.Name, tiles.Seed.Mode)
	// Output:
	// <nil>
	// WMTS /mapcache/wmts public="/wmts"
	// TMS /mapcache/tms public="/tms"
	// WMS /mapcache public=""
	// XYZ /mapcache/gmaps public="/xyz"
	// tiles-seed replicated-job
}

package mapcache_test

import (
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/mapcache"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: MapCache renders to exactly what it rendered to before (internal/golden), with
// the default config and with every field set.
func TestGolden(t *testing.T) {
	ms := &stack.Service{Name: "mapserver", Image: "example/mapserver:8",
		Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms", Layers: []string{"roads", "rivers"}}}}
	def := mapcache.New(mapcache.Config{Source: ms, Layers: []string{"roads"}})
	golden.Check(t, "mapcache-default", stack.New("golden", ms, def), swarmx.Source{})
	rich := mapcache.New(mapcache.Config{
		Common: builder.Common{
			Name:      "tiles",
			Image:     "example/mapcache:1.14",
			Replicas:  2,
			Resources: stack.Resources{CPULimit: 2, MemoryLimit: stack.GiB, CPUReservation: 0.1, MemoryReservation: 128 * stack.MiB},
			Placement: stack.Placement{Constraints: []string{"node.labels.tiles==true"}},
		},
		Source: ms, Layers: []string{"roads", "rivers"},
		Grids: []mapcache.Grid{mapcache.GoogleMapsCompatible, mapcache.WGS84}, Format: mapcache.Mixed,
		MetaTile: [2]int{4, 4}, Expires: 24 * time.Hour, VectorTiles: true, PublicURL: "https://maps.example.org/",
		Volume: "tiles-volume", Seed: &mapcache.Seed{BBox: [4]float64{-5, 41, 10, 51}, MinZoom: 0, MaxZoom: 6,
			Grids: []mapcache.Grid{mapcache.GoogleMapsCompatible}, Layers: []string{"roads"}, Threads: 4, Force: true},
	})
	golden.Check(t, "mapcache-rich", stack.New("golden", ms, rich), swarmx.Source{})
	url := mapcache.New(mapcache.Config{SourceURL: "https://wms.example.org/wms", Layers: []string{"ortho"},
		Seed: &mapcache.Seed{MaxZoom: 3}})
	golden.Check(t, "mapcache-sourceurl", stack.New("golden", url), swarmx.Source{})
}

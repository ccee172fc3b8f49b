// Command vigicrues deploys a flood-watch pipeline in the spirit of Kargo's Vigicrues job:
// river sections with their alert level, loaded into PostGIS on a schedule and served as WFS
// (and WMS) through the gateway.
//
// The runnable pipeline (the default):
//
//	db        PostGIS (kargo/postgis), database "vigicrues", password a generated secret
//	loader    a GDAL job (kargo/gdal) loading data/sections.geojson into the table
//	          "sections" with ogr2ogr, every 30 seconds
//	scheduler Kargo's scheduler, which re-runs the loader and records its runs
//	mapserver MapServer serving the sections, coloured by alert level (WMS, WFS)
//	gateway   Caddy on 127.0.0.1:8090: /wfs and /wms
//
//	go run ./examples/vigicrues apply
//	go run ./examples/vigicrues status     # the loader's last run, its result, the next run
//	curl '127.0.0.1:8090/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=sections&OUTPUTFORMAT=geojson'
//	go run ./examples/vigicrues rm
//
// data/sections.geojson is a dataset made for this example, shaped like Vigicrues'
// InfoVigiCru.geojson (gid, CdEntCru, LbEntCru, NomEntVigiCru, NivSituVigiCruEnt); it is not
// Vigicrues data. The loader can read the live service instead (gdal.Config.Source =
// "/vsicurl/<url>") where the network allows it.
//
// With KARGO_VIGICRUES_UPSTREAM=1, the stack is Kargo v0.18's upstream job instead: the
// kalisio/k-vigicrues Krawler image (its own in-process cron, 0 0 */3 * * *) writing into
// MongoDB. Those images come from a registry; `render` and `plan` work anywhere, `apply` only
// where the registry is reachable.
package main

import (
	_ "embed"
	"os"

	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/gdal"
	"github.com/kalisio/kargo/services/krawler"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
)

//go:embed data/sections.geojson
var sectionsGeoJSON []byte

// Name of the stack.
const Name = "vigicrues"

// Facts of data/sections.geojson, checked by the tests.
const (
	Sections = 12
	Table    = "sections"
)

// Options vary the stack for tests and experiments; the zero value is the example.
type Options struct {
	// Name of the stack (default Name).
	Name string
	// HTTPPort of the gateway on the nodes (default 8090).
	HTTPPort uint32
	// Schedule of the loader (default every 30 seconds).
	Schedule string
	// Upstream selects the upstream Krawler job on MongoDB instead of the runnable pipeline.
	Upstream bool
}

// Stack returns the Vigicrues stack.
func Stack(o Options) *stack.Stack {
	if o.Name == "" {
		o.Name = Name
	}
	if o.Upstream {
		return Upstream(o.Name)
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = 8090
	}
	if o.Schedule == "" {
		o.Schedule = "*/30 * * * * *"
	}
	db := postgis.New(postgis.Config{
		Common: builder.Common{Name: "db",
			Resources: stack.Resources{CPULimit: 1, MemoryLimit: 512 * stack.MiB, MemoryReservation: 64 * stack.MiB}},
		Database: "vigicrues",
		User:     "vigicrues",
		Volume:   "pgdata",
	})
	loader := gdal.New(gdal.Config{
		Common:   builder.Common{Name: "sections-loader"},
		Schedule: o.Schedule,
		Data:     sectionsGeoJSON,
		FileName: "sections.geojson",
		Database: db,
		Table:    Table,
		Mode:     gdal.Overwrite,
		Options:  []string{"-nlt", "LINESTRING"},
	})
	ms := mapserver.New(mapserver.Config{
		Common:   builder.Common{Name: "mapserver"},
		Maps:     []mapserver.Map{SectionsMap()},
		Database: db,
	})
	// MapServer starts once the first load made the table.
	ms.DependsOn = append(ms.DependsOn, loader.Name)
	gw := gateway.New(gateway.Config{HTTPPort: o.HTTPPort, Routes: gateway.OGC(ms)})
	return scheduler.Ensure(stack.New(o.Name, db, loader, ms, gw))
}

// SectionsMap serves the sections table, coloured by Vigicrues alert level (1 green,
// 2 yellow, 3 orange, 4 red). ogr2ogr lower-cases column names.
func SectionsMap() mapserver.Map {
	level := func(n, color string) mapserver.Class {
		return mapserver.Class{Name: "level " + n, Expression: "([nivsituvigicruent] = " + n + ")", Color: color, Width: 3}
	}
	return mapserver.Map{
		Name:   "vigicrues",
		Title:  "Vigicrues sections (sample)",
		Extent: mapserver.Extent{-5, 41, 10, 52},
		Layers: []mapserver.Layer{{
			Name: Table, Title: "Sections and alert levels", Type: mapserver.Line, Table: Table,
			Classes: []mapserver.Class{level("1", "#2ca25f"), level("2", "#ffff00"), level("3", "#ff9900"), level("4", "#e31a1c")},
		}},
	}
}

// Upstream is Kargo v0.18's Vigicrues deployment: the k-vigicrues Krawler job (a long-running
// container with its own cron) writing into MongoDB. No Kargo scheduler is involved.
func Upstream(name string) *stack.Stack {
	mongo := mongodb.New(mongodb.Config{Common: builder.Common{Name: "mongodb"}})
	job := krawler.Vigicrues(krawler.VigicruesConfig{Mongo: mongo})
	return stack.New(name, mongo, job)
}

func main() {
	kargo.Main(Stack(Options{Upstream: os.Getenv("KARGO_VIGICRUES_UPSTREAM") == "1"}))
}

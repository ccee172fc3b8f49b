// Package qstack describes Kargo's quickstart stack: PostGIS loaded at first start with a
// small vector dataset over France (cities, roads, zones), a MapServer serving it with an
// elevation raster (WMS, WFS, WCS, OGC API – Features), MapCache tiling the roads and cities
// as images and as vector tiles (WMTS, TMS, XYZ), and a gateway in front; under the name
// "quickstart", also a nightly backup of the database, Prometheus and the scheduler.
//
// The quickstart command (examples/quickstart) deploys it with its data embedded; the
// benchmarks (cmd/kargo-bench) deploy the same stack under another name and other ports.
package qstack

import (
	"fmt"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/mapcache"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/monitoring"
	"github.com/kalisio/kargo/services/pgbackup"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
)

// Name of the stack.
const Name = "quickstart"

// Ports of the gateway on the host.
const (
	HTTPPort  = 8080
	HTTPSPort = 8443
)

// ElevationTIFF is where the MapServer tasks write the GeoTIFF they make from the grid.
const ElevationTIFF = "/var/lib/mapserver/elevation.tif"

// Data are the quickstart's data files (examples/quickstart/data, made by its gendata).
type Data struct {
	// SQL is data/quickstart.sql, run by PostGIS at its first start.
	SQL []byte
	// Elevation is data/elevation.asc, the elevation grid MapServer serves as a GeoTIFF.
	Elevation []byte
}

// Options vary the quickstart for tests and experiments; the zero value is the quickstart.
type Options struct {
	// MapServerReplicas, default 2.
	MapServerReplicas uint64
	// PostGISEnv adds environment variables to the PostGIS service (an update that keeps
	// the data).
	PostGISEnv map[string]string
	// Name of the stack; default Name. The drills run a copy of the quickstart beside it:
	// a copy under another name has no backup job nor monitoring (one of each per machine).
	Name string
	// HTTPPort and HTTPSPort of the gateway; default HTTPPort and HTTPSPort.
	HTTPPort, HTTPSPort uint32
	// MapServerEnv adds environment variables to MapServer (an update that rolls its tasks).
	MapServerEnv map[string]string
	// MapServerHealth replaces MapServer's health check (a shell command line).
	MapServerHealth string
	// DBPassword is the database password; empty: a generated one. A new value is a rotation.
	DBPassword string
}

// DatabaseConfig is the quickstart's PostGIS service "db", loading d.SQL at first start.
func DatabaseConfig(d Data) postgis.Config {
	return postgis.Config{
		Common: builder.Common{Name: "db",
			Resources: stack.Resources{CPULimit: 1, MemoryLimit: 512 * stack.MiB, MemoryReservation: 128 * stack.MiB}},
		Database:      "gis",
		User:          "gis",
		Volume:        "pgdata",
		Init:          []postgis.InitFile{{Name: "20_quickstart.sql", Data: d.SQL}},
		SharedBuffers: "64MB",
	}
}

// MapServerConfig is the quickstart's MapServer service "mapserver" (2 replicas, OGC API on)
// serving Map from db, with the elevation grid of d turned into ElevationTIFF at start.
func MapServerConfig(d Data, db *postgis.Server) mapserver.Config {
	return mapserver.Config{
		Common: builder.Common{Name: "mapserver", Replicas: 2,
			Resources: stack.Resources{CPULimit: 1, MemoryLimit: 256 * stack.MiB, MemoryReservation: 32 * stack.MiB}},
		Maps:     []mapserver.Map{Map()},
		Database: db,
		OGCAPI:   true,
		Files: []mapserver.File{
			{Target: "/etc/mapserver/data/elevation.asc", Data: d.Elevation},
			{Target: "/docker-entrypoint.d/10-elevation.sh", Data: []byte(elevationScript)},
		},
	}
}

// Stack returns the quickstart stack with the data d.
func Stack(d Data, o Options) *stack.Stack {
	name, httpPort, httpsPort := Name, uint32(HTTPPort), uint32(HTTPSPort)
	if o.Name != "" {
		name = o.Name
	}
	if o.HTTPPort != 0 {
		httpPort, httpsPort = o.HTTPPort, o.HTTPSPort
	}
	dbc := DatabaseConfig(d)
	dbc.Env = o.PostGISEnv
	if o.DBPassword != "" {
		dbc.Password = &stack.Secret{Data: []byte(o.DBPassword)}
	}
	db := postgis.New(dbc)
	msc := MapServerConfig(d, db)
	if o.MapServerReplicas != 0 {
		msc.Replicas = o.MapServerReplicas
	}
	msc.Env = o.MapServerEnv
	ms := mapserver.New(msc)
	if o.MapServerHealth != "" {
		ms.Health.Test = []string{"CMD-SHELL", o.MapServerHealth}
	}
	// Capabilities documents advertise the gateway's URLs (/wmts, /tms), not MapCache's own.
	tiles := mapcache.New(mapcache.Config{Common: builder.Common{Name: "tiles"}, Source: ms, Layers: TiledLayers, VectorTiles: true,
		PublicURL: fmt.Sprintf("http://127.0.0.1:%d/", httpPort)})
	var parts []stack.Part
	routes := gateway.OGC(ms, tiles)
	if name == Name {
		// A dump of the database every night at 02:00 UTC, the last 7 kept; `backup` takes
		// one now and `restore [NAME]` puts one back.
		backup := pgbackup.New(pgbackup.Config{Database: db, Schedule: pgbackup.DefaultSchedule, Keep: 7})
		// Prometheus under /prometheus: the gateway's metrics, MapServer's and MapCache's
		// tasks, PostGIS, the nodes, the backups and the scheduled jobs, with alerts
		// (`metrics` prints them).
		mon := monitoring.New(monitoring.Config{Database: db, Watch: []*stack.Service{ms, tiles.Service},
			Gateway: "gateway", Backup: backup, Scheduler: scheduler.DefaultName})
		parts = append(parts, backup, mon, scheduler.New(scheduler.Config{Metrics: true}))
		routes = append(routes, mon.Route())
	}
	gw := gateway.New(gateway.Config{
		HTTPPort:  httpPort,
		HTTPSPort: httpsPort,
		Routes:    routes,
		AccessLog: true,
		Metrics:   name == Name,
	})
	return scheduler.Ensure(stack.New(name, append([]stack.Part{db, ms, tiles, gw}, parts...)...))
}

// TiledLayers are the layers MapCache serves as tiles (WMTS, TMS, XYZ), as PNG images and as
// Mapbox vector tiles (tilesets roads-mvt and cities-mvt).
var TiledLayers = []string{"roads", "cities"}

// elevationScript makes the GeoTIFF served by the elevation layer from the embedded grid,
// with GDAL, when a MapServer task starts.
const elevationScript = `#!/bin/sh
set -e
gdal_translate -q -of GTiff -ot Int16 -a_srs EPSG:4326 -co COMPRESS=DEFLATE -co TILED=YES \
  /etc/mapserver/data/elevation.asc ` + ElevationTIFF + `
chown www-data:www-data ` + ElevationTIFF + `
`

// Colours of the layers, checked on rendered maps by the integration tests.
const (
	CityColor     = "#d7191c"
	TownColor     = "#7b3294"
	VillageColor  = "#404040"
	MotorwayColor = "#2b83ba"
	RoadColor     = "#80b1d3"
	ZoneColor     = "#fdae61"
)

// FranceExtent is the extent of the map (EPSG:4326).
var FranceExtent = mapserver.Extent{-5, 41, 10, 52}

// Map is the map MapServer serves: zones, roads and cities from PostGIS over an elevation
// raster.
func Map() mapserver.Map {
	return mapserver.Map{
		Name:     "quickstart",
		Title:    "Kargo quickstart",
		Abstract: "Generated cities, roads and zones over France, and an elevation model.",
		Extent:   FranceExtent,
		Layers: []mapserver.Layer{
			{
				Name: "elevation", Title: "Elevation (m)", Type: mapserver.Raster, File: ElevationTIFF,
				Extent:  FranceExtent,
				Classes: []mapserver.Class{{Name: "elevation", ColorRange: [2]string{"#1a9641", "#a6611a"}, DataRange: [2]float64{0, 3500}}},
			},
			{
				Name: "zones", Title: "Zones", Type: mapserver.Polygon, Table: "zones", Opacity: 50,
				Classes: []mapserver.Class{{Name: "zone", Color: ZoneColor, OutlineColor: "#000000"}},
			},
			{
				Name: "roads", Title: "Roads", Type: mapserver.Line, Table: "roads",
				Classes: []mapserver.Class{
					{Name: "motorway", Expression: "('[class]' = 'motorway')", Color: MotorwayColor, Width: 3},
					{Name: "secondary", Color: RoadColor, Width: 1.5},
				},
			},
			{
				Name: "cities", Title: "Cities", Type: mapserver.Point, Table: "cities",
				Classes: []mapserver.Class{
					{Name: "city", Expression: "('[kind]' = 'city')", Color: CityColor, OutlineColor: "#ffffff", Size: 12},
					{Name: "town", Expression: "('[kind]' = 'town')", Color: TownColor, Size: 7},
					{Name: "village", Color: VillageColor, Size: 4},
				},
			},
		},
	}
}

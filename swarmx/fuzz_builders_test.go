package swarmx_test

import (
	"testing"
	"time"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/gdal"
	"github.com/kalisio/kargo/services/geoserver"
	"github.com/kalisio/kargo/services/krawler"
	"github.com/kalisio/kargo/services/mapcache"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/services/monitoring"
	"github.com/kalisio/kargo/services/pgbackup"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/services/weacast"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// builderCount is how many builders fuzzBuilder knows.
const builderCount = 14

// fuzzBuilder builds a stack around one builder (which % builderCount) from three strings:
// a goes where names go (services, secrets), b where identifiers go (databases, users,
// tables, layers, file names), c where free text goes (schedules, templates, paths,
// options), so that ordinary inputs make valid stacks and the fuzzer explores both sides.
func fuzzBuilder(which uint8, a, b, c string) *stack.Stack {
	job := []byte("module.exports = {}")
	switch which % builderCount {
	case 0:
		return stack.New("f", postgis.New(postgis.Config{
			Common:   builder.Common{Name: a, Env: map[string]string{a: c}},
			Database: b,
			User:     b,
			InitSQL:  c,
			Settings: map[string]string{b: c}}))
	case 1:
		return stack.New("f", mongodb.New(mongodb.Config{Common: builder.Common{Name: a, Env: map[string]string{b: c}}, RootUser: b, ReplicaSet: b,
			Members: []string{a + ":27017"}, Args: []string{"--quiet", c}}))
	case 2:
		db := mongodb.New(mongodb.Config{})
		return stack.New("f", db, krawler.New(krawler.Config{Common: builder.Common{Name: a}, JobFile: b + ".js", Cron: c, JobData: job, Mongo: db,
			Database: b, Subdomain: c, Debug: c, Health: krawler.HealthConfig{MessageTemplate: c},
			SlackWebhook: &stack.Secret{Name: a + "-slack", Data: []byte(c)}}))
	case 3:
		db := mongodb.New(mongodb.Config{})
		return stack.New("f", db, krawler.Vigicrues(krawler.VigicruesConfig{Common: builder.Common{Name: a}, Mongo: db, Database: b, Cron: c,
			Subdomain: c, Debug: c}))
	case 4:
		return stack.New("f", krawler.Teleray(krawler.TelerayConfig{Common: builder.Common{Name: a}, DBURL: "mongodb://mongodb:27017/" + b, Cron: c, Subdomain: c}))
	case 5:
		db := mongodb.New(mongodb.Config{})
		return stack.New("f", db, weacast.New(weacast.Config{Common: builder.Common{Name: a}, Mongo: db, Database: b, DataDatabase: b + "-data",
			Subdomain: c, Debug: c, AppSecret: stack.Secret{Name: a + "-app", Data: []byte(c)},
			MeteoFranceToken: stack.Secret{Name: a + "-mf", Data: []byte(c)},
			Loaders:          []weacast.Loader{{Model: weacast.ArpegeWorld, Cron: c}}}))
	case 6:
		db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
		return stack.New("f", db, gdal.New(gdal.Config{
			Common:         builder.Common{Name: a, Env: map[string]string{a: c}},
			Data:           job,
			FileName:       b + ".geojson",
			Layer:          b,
			Database:       db,
			Table:          b,
			Schema:         b,
			GeometryColumn: b + "_geom",
			Options:        []string{"-lco", c},
			Schedule:       c}))
	case 7:
		db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
		return stack.New("f", db, mapserver.New(mapserver.Config{
			Common:   builder.Common{Name: a, Env: map[string]string{b: c}},
			Database: db,
			Layers:   []string{b + "2"},
			Maps: []mapserver.Map{{Name: a, Title: c, Extent: mapserver.Extent{-5, 41, 10, 52},
				Layers: []mapserver.Layer{{Name: b, Type: mapserver.Line, Table: b}}}}}))
	case 8:
		ms := &stack.Service{Name: "ms", Image: "example/ms:1",
			Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms"}}}
		return stack.New("f", ms, mapcache.New(mapcache.Config{Common: builder.Common{Name: a}, Source: ms, Layers: []string{b, "roads"},
			Grids: []mapcache.Grid{mapcache.WGS84}, Seed: &mapcache.Seed{Layers: []string{b}, MaxZoom: 1}}))
	case 9:
		return stack.New("f", geoserver.New(geoserver.Config{Common: builder.Common{Name: a, Env: map[string]string{b: c}}, AdminUser: b, Context: b, Extensions: []string{b},
			JavaOpts: []string{c}, PublicPrefix: c, AdminPassword: stack.Secret{Name: a + "-pw", Data: []byte(c)}}))
	case 10:
		ms := &stack.Service{Name: "ms", Image: "example/ms:1",
			Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms"}}}
		return stack.New("f", ms, gateway.New(gateway.Config{Common: builder.Common{Name: a}, HTTPSPort: 28443,
			Routes: []gateway.Route{{Prefix: "/" + b, Service: ms, Port: 80, Path: c}},
			TLS:    &gateway.TLS{Hosts: []string{a + ".local", "localhost"}}}))
	case 12:
		db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
		return scheduler.Ensure(stack.New("f", db, pgbackup.New(pgbackup.Config{Common: builder.Common{Name: a, Env: map[string]string{b: c}},
			Database: db, Schedule: c, Volume: b, Keep: len(c) - 3, KeepDays: len(b)})))
	case 13:
		db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
		ms := &stack.Service{Name: "ms", Image: "example/ms:1",
			Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/" + b, Public: "/wms"}}}
		backup := pgbackup.New(pgbackup.Config{Database: db, Schedule: c})
		return stack.New("f", db, ms, backup, monitoring.New(monitoring.Config{Common: builder.Common{Name: a},
			Database: db, Watch: []*stack.Service{ms}, Gateway: b, Backup: backup, Volume: b,
			ScrapeInterval: time.Duration(len(c)) * time.Second}))
	default:
		j := &stack.Service{Name: "job", Image: "example/job:1", Mode: stack.ReplicatedJob, Schedule: c,
			Env: map[string]string{b: c}}
		return scheduler.Ensure(stack.New("f", j, scheduler.New(scheduler.Config{Common: builder.Common{Name: a}, Refresh: time.Duration(len(c)) * time.Second})))
	}
}

// FuzzBuilders drives every builder's Config with arbitrary strings: New, Validate and
// Render never panic, a stack Validate accepts renders, and one it refuses does not.
func FuzzBuilders(f *testing.F) {
	seeds := [][3]string{
		{"", "", ""},
		{"x", "gis", "0 */10 * * * *"},
		{"x", "gis", "/x"},
		{"x", "gis", ""},
		{"a", "0 */10 * * * *", "job.js"},
		{"$(echo>pwn)", "`echo>pwn`", ";echo>pwn\n"},
		{"/wms", "/", "/?map=/etc/x.map"},
		{"db\x00", "a\vb", "\u2028"},
		{"rs0", "root", "mongo0:27017"},
	}
	for i := 0; i < builderCount; i++ {
		for _, s := range seeds {
			f.Add(uint8(i), s[0], s[1], s[2])
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, a, b, c string) {
		st := fuzzBuilder(which, a, b, c)
		verr := st.Validate()
		d, rerr := swarmx.Render(st, emptySource)
		switch {
		case verr == nil && rerr != nil:
			t.Fatalf("builder %d: Validate accepted the stack but Render failed: %v", which%builderCount, rerr)
		case verr == nil && (d == nil || len(d.Services) != len(st.Services)):
			t.Fatalf("builder %d: Render returned %v for %d services", which%builderCount, d, len(st.Services))
		case verr != nil && rerr == nil:
			t.Fatalf("builder %d: Validate refused the stack (%v) but Render succeeded", which%builderCount, verr)
		}
	})
}

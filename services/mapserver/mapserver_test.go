package mapserver_test

import (
	"strings"
	"testing"

	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

func testMap() mapserver.Map {
	return mapserver.Map{
		Name: "demo", Title: "Demo", Extent: mapserver.Extent{-5, 41, 10, 52},
		Layers: []mapserver.Layer{
			{Name: "dem", Type: mapserver.Raster, File: "/data/dem.tif",
				Classes: []mapserver.Class{{ColorRange: [2]string{"#00ff00", "#ff0000"}, DataRange: [2]float64{0, 3000}}}},
			{Name: "roads", Type: mapserver.Line, Table: "roads", Classes: []mapserver.Class{{Expression: "('[class]' = 'motorway')", Color: "#2b83ba", Width: 3}}},
			{Name: "cities", Type: mapserver.Point, Table: "(SELECT * FROM cities WHERE population > 0) AS c", Key: "gid"},
		},
	}
}

func render(t *testing.T, parts ...stack.Part) *swarmx.Desired {
	t.Helper()
	d, err := swarmx.Render(stack.New("t", parts...), swarmx.Source{
		ReadFile:  func(p string) ([]byte, error) { return []byte("file:" + p), nil },
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return d
}

func TestTypedMapWithDatabase(t *testing.T) {
	db := postgis.New(postgis.Config{Name: "db", Database: "gis", User: "gis"})
	ms := mapserver.New(mapserver.Config{Name: "ms", Replicas: 2, MaxReplicasPerNode: 1, Maps: []mapserver.Map{testMap()}, Database: db})
	d := render(t, db, ms)
	svc, _ := d.Service("ms")
	cs := svc.Spec.TaskTemplate.ContainerSpec
	if cs.Image != "kargo/mapserver:8.0" || svc.Replicas() != 2 || svc.Spec.TaskTemplate.Placement.MaxReplicas != 1 {
		t.Errorf("image %s replicas %d placement %+v", cs.Image, svc.Replicas(), svc.Spec.TaskTemplate.Placement)
	}
	env := svc.Env()
	if env["PGPASSWORD_FILE"] != "/run/secrets/ms-db-password" || env["PGPASS_HOST"] != "db" || env["PGPASS_USER"] != "gis" {
		t.Errorf("env = %v", env)
	}
	if len(cs.Secrets) != 1 || cs.Secrets[0].SecretName != "t_db-password" {
		t.Errorf("secrets = %+v", cs.Secrets)
	}
	if svc.DependsOn[0] != "db" {
		t.Errorf("depends on %v", svc.DependsOn)
	}
	files := map[string]string{}
	for _, ref := range cs.Configs {
		for _, c := range d.Configs {
			if c.Name == ref.ConfigName {
				files[ref.File.Name] = string(c.Spec.Data)
			}
		}
	}
	mapfile := files["/etc/mapserver/demo.map"]
	for _, want := range []string{
		`CONNECTION "host=db port=5432 dbname=gis user=gis connect_timeout=5"`,
		`DATA "geom FROM roads USING UNIQUE id USING SRID=4326"`,
		`DATA "geom FROM (SELECT * FROM cities WHERE population > 0) AS c USING UNIQUE gid USING SRID=4326"`,
		`DATA "/data/dem.tif"`,
		"EXPRESSION ('[class]' = 'motorway')",
		"COLOR 43 131 186",
		"COLORRANGE 0 255 0 255 0 0",
		"EXTENT -5 41 10 52",
		`"wcs_rangeset_name" "dem"`,
		`"gml_featureid" "gid"`,
	} {
		if !strings.Contains(mapfile, want) {
			t.Errorf("mapfile lacks %q:\n%s", want, mapfile)
		}
	}
	if strings.Contains(strings.ToLower(mapfile), "password") {
		t.Error("the mapfile must not hold a password")
	}
	conf := files["/etc/mapserver.conf"]
	if !strings.Contains(conf, `MS_MAPFILE "/etc/mapserver/demo.map"`) || !strings.Contains(conf, `"DEMO" "/etc/mapserver/demo.map"`) {
		t.Errorf("config file:\n%s", conf)
	}
	eps := map[stack.EndpointKind]stack.Endpoint{}
	for _, ep := range svc.Endpoints {
		eps[ep.Kind] = ep
	}
	if e := eps[stack.WMS]; e.Path != "/wms" || e.Public != "/wms" || e.Port != 80 || strings.Join(e.Layers, ",") != "roads,cities,dem" {
		t.Errorf("WMS endpoint %+v", e)
	}
	if e := eps[stack.WFS]; strings.Join(e.Layers, ",") != "roads,cities" || e.Public != "/wfs" {
		t.Errorf("WFS endpoint %+v", e)
	}
	if e := eps[stack.WCS]; strings.Join(e.Layers, ",") != "dem" || e.Public != "/wcs" {
		t.Errorf("WCS endpoint %+v", e)
	}
	hc := strings.Join(cs.Healthcheck.Test, " ")
	for _, want := range []string{"REQUEST=GetCapabilities", "<Name>roads</Name>", "<Name>dem</Name>", "RESULTTYPE=hits&TYPENAMES=roads"} {
		if !strings.Contains(hc, want) {
			t.Errorf("health check lacks %q: %s", want, hc)
		}
	}
	if r := svc.Spec.TaskTemplate.Resources; r.Limits.MemoryBytes != 512*stack.MiB {
		t.Errorf("resources %+v", r)
	}
	if len(svc.Spec.EndpointSpec.Ports) != 0 {
		t.Errorf("no port should be published by default: %+v", svc.Spec.EndpointSpec.Ports)
	}
}

func TestMapfileDirectory(t *testing.T) {
	ms := mapserver.New(mapserver.Config{Mapfiles: "testdata/maps", Layers: []string{"a"}, PublishedPort: 18081,
		Files: []mapserver.File{{Target: "/docker-entrypoint.d/10-x.sh", Data: []byte("echo")}}})
	d := render(t, ms)
	svc, _ := d.Service("mapserver")
	targets := map[string]uint32{}
	for _, ref := range svc.Spec.TaskTemplate.ContainerSpec.Configs {
		targets[ref.File.Name] = uint32(ref.File.Mode)
	}
	for _, want := range []string{"/etc/mapserver/mapserver.map", "/etc/mapserver/other.map", "/etc/mapserver/symbols.sym", "/etc/mapserver.conf"} {
		if _, ok := targets[want]; !ok {
			t.Errorf("no config at %s: %v", want, targets)
		}
	}
	if targets["/docker-entrypoint.d/10-x.sh"] != 0o555 {
		t.Errorf("start script mode %o", targets["/docker-entrypoint.d/10-x.sh"])
	}
	for _, c := range d.Configs {
		if strings.HasPrefix(c.Logical, "mapserver-conf") && !strings.Contains(string(c.Spec.Data), `MS_MAPFILE "/etc/mapserver/mapserver.map"`) {
			t.Errorf("default map should be mapserver.map:\n%s", c.Spec.Data)
		}
	}
	p := svc.Spec.EndpointSpec.Ports
	if len(p) != 1 || p[0].PublishedPort != 18081 || p[0].TargetPort != 80 || p[0].PublishMode != "host" {
		t.Errorf("ports %+v", p)
	}
}

func TestValidation(t *testing.T) {
	bad := mapserver.Map{Name: "bad name", Layers: []mapserver.Layer{
		{Name: "v", Type: mapserver.Polygon, Table: "t", Classes: []mapserver.Class{{Color: "red"}}},
		{Name: "v", Type: mapserver.Raster},
		{Name: "x", Type: "CIRCLE"},
	}}
	ms := mapserver.New(mapserver.Config{Maps: []mapserver.Map{bad}, Mapfiles: "testdata/missing",
		Files: []mapserver.File{{Target: "rel/path", Data: []byte("x")}}, Env: map[string]string{"PGPASSWORD": "x"}})
	err := stack.New("t", ms).Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		"config.maps[0].name", "config.maps[0].layers[0].table", "config.maps[0].layers[0].classes[0].color",
		"config.maps[0].layers[1].name", "config.maps[0].layers[1].file", "config.maps[0].layers[2].type",
		"config.mapfiles", "config.files[0].target", "config.env.PGPASSWORD",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
	if err := stack.New("t", mapserver.New(mapserver.Config{})).Validate(); err == nil || !strings.Contains(err.Error(), "give Mapfiles") {
		t.Errorf("no maps: %v", err)
	}
}

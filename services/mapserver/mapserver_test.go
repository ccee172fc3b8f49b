package mapserver_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/services/builder"
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
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis", User: "gis"})
	ms := mapserver.New(mapserver.Config{Common: builder.Common{Name: "ms", Replicas: 2, Placement: stack.Placement{MaxReplicasPerNode: 1}}, Maps: []mapserver.Map{testMap()}, Database: db})
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
	// A killed task is back within 15 s: restarted whatever its exit code after 2 s, healthy
	// at its first check 5 s after it starts.
	if rp := svc.Spec.TaskTemplate.RestartPolicy; rp == nil || rp.Condition != "any" || rp.Delay == nil || *rp.Delay > 2*time.Second {
		t.Errorf("restart policy %+v, want any with a delay of at most 2s", rp)
	}
	if iv := cs.Healthcheck.Interval; iv == 0 || iv > 5*time.Second {
		t.Errorf("health interval %s, want at most 5s", iv)
	}
	if r := svc.Spec.TaskTemplate.Resources; r.Limits.MemoryBytes != 512*stack.MiB {
		t.Errorf("resources %+v", r)
	}
	if len(svc.Spec.EndpointSpec.Ports) != 0 {
		t.Errorf("no port should be published by default: %+v", svc.Spec.EndpointSpec.Ports)
	}
}

func TestMapfileDirectory(t *testing.T) {
	ms := mapserver.New(mapserver.Config{Mapfiles: mapserver.ReadDir("testdata/maps"), Layers: []string{"a"}, PublishedPort: 18081,
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
	ms := mapserver.New(mapserver.Config{
		Common:   builder.Common{Env: map[string]string{"PGPASSWORD": "x"}},
		Maps:     []mapserver.Map{bad},
		Mapfiles: mapserver.ReadDir("testdata/missing"),
		Files:    []mapserver.File{{Target: "rel/path", Data: []byte("x")}}})
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

func TestLayerNamesAreValidated(t *testing.T) {
	ms := mapserver.New(mapserver.Config{Mapfiles: mapserver.ReadDir("testdata/maps"),
		Layers: []string{"roads", "ns:rivers.v2", "a'; touch /tmp/pwned; echo '", "a b", "", "<Name>"}})
	err := stack.New("t", ms).Validate()
	ve, ok := err.(*stack.ValidationError)
	if !ok {
		t.Fatalf("want a validation error, got %v", err)
	}
	for i, bad := range []bool{false, false, true, true, true, true} {
		p := "services[mapserver].config.layers[" + strconv.Itoa(i) + "]"
		if ve.Has(p) != bad {
			t.Errorf("problem at %s: %v, want %v (%v)", p, ve.Has(p), bad, err)
		}
	}
	// Rejected names never reach the health check (a shell command).
	hc := strings.Join(ms.Health.Test, " ")
	if strings.Contains(hc, "pwned") || !strings.Contains(hc, "'<Name>ns:rivers.v2</Name>'") {
		t.Errorf("health check: %s", hc)
	}
}

func TestHealthCommandQuotesForTheShell(t *testing.T) {
	// HealthCommand is exported: whatever it is given stays one shell word. Run the command
	// with curl and grep replaced by functions printing their arguments, one per line.
	layers := []string{"roads", "it's", "$(touch pwned)", "a&b"}
	script := `curl() { for a; do echo "curl:$a" >&2; done; echo '<WMS_Capabilities numberMatched="1"'; }
grep() { for a; do echo "grep:$a" >&2; done; return 0; }
` + mapserver.HealthCommand(layers, "x'y")
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("health command: %v\n%s", err, out)
	}
	for _, want := range []string{
		"grep:<Name>it's</Name>", "grep:<Name>$(touch pwned)</Name>", "grep:<Name>a&amp;b</Name>",
		"curl:http://127.0.0.1/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&RESULTTYPE=hits&TYPENAMES=x%27y",
	} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the health command ran a command from a layer name: %v", entries)
	}
}

func TestMapfileValuesStayInTheirToken(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}})
	layer := func(c mapserver.Class) mapserver.Map {
		return mapserver.Map{Name: "m", Layers: []mapserver.Layer{{Name: "l", Type: mapserver.Line, Table: "t", Classes: []mapserver.Class{c}}}}
	}
	for _, tc := range []struct {
		expr string
		ok   bool
	}{
		{"('[class]' = 'motorway')", true},
		{"([pop] > 100000 AND ([kind] = 'city'))", true},
		{`"city"`, true},
		{"/^mot/i", true},
		{"([a] = 1)\nEND\nLAYER NAME \"x\"", false}, // a line break ends the expression
		{"([a] = 1) END END LAYER NAME x (", false}, // closes early: the rest is mapfile
		{"([a] = 1", false},
		{"[a] = 1", false},
		{`"a" END "b"`, false},
	} {
		ms := mapserver.New(mapserver.Config{Database: db, Maps: []mapserver.Map{layer(mapserver.Class{Expression: tc.expr})}})
		err := stack.New("t", db, ms).Validate()
		p := "services[mapserver].config.maps[0].layers[0].classes[0].expression"
		ve, _ := err.(*stack.ValidationError)
		if got := ve != nil && ve.Has(p); got == tc.ok {
			t.Errorf("expression %q: problem %v, want %v (%v)", tc.expr, got, !tc.ok, err)
		}
	}
	m := mapserver.Map{Name: "m", Layers: []mapserver.Layer{{Name: "l", Type: mapserver.Line, Table: "t", Geometry: "geom; DROP", Key: "id id"}}}
	err := stack.New("t", db, mapserver.New(mapserver.Config{Database: db, Maps: []mapserver.Map{m}})).Validate()
	for _, p := range []string{"layers[0].geometry", "layers[0].key"} {
		if ve, _ := err.(*stack.ValidationError); ve == nil || !ve.Has("services[mapserver].config.maps[0]."+p) {
			t.Errorf("no problem at %s: %v", p, err)
		}
	}
	// Quoted strings cannot end early: a title with quotes and line breaks stays one string.
	out := mapserver.Map{Name: "m", Title: "a\"b\nEND\r\nc\\", Layers: []mapserver.Layer{{Name: "l", Type: mapserver.Raster, File: "/x.tif"}}}.Render("")
	if !strings.Contains(out, `"ows_title" "a\"b END  c\\"`+"\n") || strings.Count(out, "\nEND") != 1 {
		t.Errorf("title escaped badly:\n%s", out)
	}
}

func TestLongFileTargetsGetDistinctConfigs(t *testing.T) {
	// Targets sharing a long prefix, or the same once sanitised, ship as distinct configs.
	long := "/etc/mapserver/data/a-very-long-directory-name/elevation-model-of-the-whole-region-"
	files := []mapserver.File{
		{Target: long + "2023.tif", Data: []byte("a")},
		{Target: long + "2024.tif", Data: []byte("b")},
	}
	raster := func(name string) mapserver.Map {
		return mapserver.Map{Name: name, Layers: []mapserver.Layer{{Name: "l", Type: mapserver.Raster, File: long + "2023.tif"}}}
	}
	ms := mapserver.New(mapserver.Config{
		Common:   builder.Common{Name: "mapserver-with-a-long-name"},
		Files:    files,
		Maps:     []mapserver.Map{raster("regional_elevation_model_2023"), raster("regional_elevation_model_2024"), raster("m-x")},
		Mapfiles: mapserver.ReadDir("testdata/longnames")})
	ms2 := mapserver.New(mapserver.Config{
		Common: builder.Common{Name: "ms2"},
		Maps:   []mapserver.Map{raster("a")},
		Files:  []mapserver.File{{Target: "/etc/mapserver/data/x.y", Data: []byte("c")}, {Target: "/etc/mapserver/data/x-y", Data: []byte("d")}}})
	if err := stack.New("t", ms, ms2).Validate(); err != nil {
		t.Fatal(err)
	}
	d := render(t, ms, ms2)
	for svcName, want := range map[string]map[string]string{
		"mapserver-with-a-long-name": {
			files[0].Target: "a", files[1].Target: "b",
			"/etc/mapserver/regional-elevation-model-of-the-whole-country-2023.map": "file:testdata/longnames/regional-elevation-model-of-the-whole-country-2023.map",
			"/etc/mapserver/regional-elevation-model-of-the-whole-country-2024.map": "file:testdata/longnames/regional-elevation-model-of-the-whole-country-2024.map",
			"/etc/mapserver/regional_elevation_model_2023.map":                      "MAP",
			"/etc/mapserver/regional_elevation_model_2024.map":                      "MAP",
			"/etc/mapserver/m-x.map":                                                "MAP",
			"/etc/mapserver.conf":                                                   "CONFIG",
		},
		"ms2": {"/etc/mapserver/data/x.y": "c", "/etc/mapserver/data/x-y": "d", "/etc/mapserver/a.map": "MAP", "/etc/mapserver.conf": "CONFIG"},
	} {
		svc, _ := d.Service(svcName)
		data := map[string]string{}
		names := map[string]bool{}
		for _, ref := range svc.Spec.TaskTemplate.ContainerSpec.Configs {
			names[ref.ConfigName] = true
			for _, c := range d.Configs {
				if c.Name == ref.ConfigName {
					data[ref.File.Name] = string(c.Spec.Data)
					if len(c.Logical) > 36 {
						t.Errorf("config name %q is longer than 36 characters", c.Logical)
					}
				}
			}
		}
		if len(names) != len(want) {
			t.Errorf("%s: %d configs for %d files: %v", svcName, len(names), len(want), names)
		}
		for target, prefix := range want {
			if got, ok := data[target]; !ok || !strings.Contains(got, prefix) {
				t.Errorf("%s: %s holds %.40q, want %q", svcName, target, got, prefix)
			}
		}
	}
}

func TestOGCAPIFeatures(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis", User: "gis"})
	other := mapserver.Map{Name: "my-roads", Layers: []mapserver.Layer{{Name: "r", Type: mapserver.Line, Table: "roads", NoOGCAPI: true}, {Name: "s", Type: mapserver.Point, Table: "s"}}}
	ms := mapserver.New(mapserver.Config{Common: builder.Common{Name: "ms"}, Maps: []mapserver.Map{testMap(), other}, Database: db, OGCAPI: true})
	var apis []stack.Endpoint
	for _, ep := range ms.Endpoints {
		if ep.Kind == stack.OGCAPIFeatures {
			apis = append(apis, ep)
		}
	}
	if len(apis) != 2 || apis[0].Path != "/ogcapi" || apis[0].Public != "/ogcapi" || strings.Join(apis[0].Layers, ",") != "roads,cities" ||
		apis[1].Path != "/my_roads/ogcapi" || apis[1].Public != "/my_roads/ogcapi" || strings.Join(apis[1].Layers, ",") != "s" {
		t.Fatalf("OGC API endpoints = %+v", apis)
	}
	d := render(t, db, ms)
	svc, _ := d.Service("ms")
	files := map[string]string{}
	for _, ref := range svc.Spec.TaskTemplate.ContainerSpec.Configs {
		for _, c := range d.Configs {
			if c.Name == ref.ConfigName {
				files[ref.File.Name] = string(c.Spec.Data)
			}
		}
	}
	demo := files["/etc/mapserver/demo.map"]
	for _, want := range []string{
		`"oga_onlineresource" "%oga_root%"`,
		`"default_oga_root" "/demo/ogcapi"`,
		`"oga_description" "roads"`,
		`OUTPUTFORMAT NAME "mvt" DRIVER "MVT" MIMETYPE "application/vnd.mapbox-vector-tile"`,
	} {
		if !strings.Contains(demo, want) {
			t.Errorf("demo.map lacks %s:\n%s", want, demo)
		}
	}
	// The raster layer and the layer kept out are no collections.
	if n := strings.Count(demo, `"oga_enable_request" "!*"`); n != 1 {
		t.Errorf("demo.map disables OGC API on %d layers, want 1 (the raster)", n)
	}
	if n := strings.Count(files["/etc/mapserver/my-roads.map"], `"oga_enable_request" "!*"`); n != 1 {
		t.Errorf("my-roads.map disables OGC API on %d layers, want 1", n)
	}
	conf := files[mapserver.ConfigFile]
	for _, want := range []string{`"DEFAULT" "/etc/mapserver/demo.map"`, `"MY_ROADS" "/etc/mapserver/my-roads.map"`, `OGCAPI_HTML_TEMPLATE_DIRECTORY "` + mapserver.OGCAPITemplates + `"`} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %s:\n%s", want, conf)
		}
	}

	// Off by default: no endpoint, and MapServer's OGC API is disabled on the map.
	off := mapserver.New(mapserver.Config{Common: builder.Common{Name: "ms"}, Maps: []mapserver.Map{testMap()}, Database: db})
	for _, ep := range off.Endpoints {
		if ep.Kind == stack.OGCAPIFeatures {
			t.Errorf("OGC API endpoint without OGCAPI: %+v", ep)
		}
	}
	if m := testMap().Render(""); !strings.Contains(m, "WEB\n    METADATA") || strings.Contains(m, "oga_onlineresource") ||
		!strings.Contains(m[:strings.Index(m, "LAYER")], `"oga_enable_request" "!*"`) {
		t.Errorf("a map without OGCAPI must disable it:\n%s", m)
	}

	// DEFAULT is the first map's alias.
	bad := mapserver.New(mapserver.Config{Common: builder.Common{Name: "ms"}, Maps: []mapserver.Map{testMap(), {Name: "Default", Layers: other.Layers}}, Database: db, OGCAPI: true})
	if err := stack.New("t", db, bad).Validate(); err == nil || !strings.Contains(err.Error(), "config.maps[1].name") {
		t.Errorf("a second map named Default: %v", err)
	}
}

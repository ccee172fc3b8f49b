package mapcache

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

func wmsSource() *stack.Service {
	return &stack.Service{Name: "ms", Image: "kargo/mapserver:8.0",
		Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 8080, Path: "/wms", Public: "/wms"}}}
}

func TestMapCacheRender(t *testing.T) {
	ms := wmsSource()
	tiles := New(Config{Common: builder.Common{Name: "tiles", Replicas: 2}, Source: ms, Layers: []string{"roads", "rivers"},
		Grids: []Grid{GoogleMapsCompatible, WGS84}, Volume: "tilecache", PublicURL: "https://maps.example.org/",
		Seed: &Seed{BBox: [4]float64{-5, 41, 10, 51}, MinZoom: 0, MaxZoom: 5, Layers: []string{"roads"}, Grids: []Grid{GoogleMapsCompatible}}})
	d, err := swarmx.Render(stack.New("mc", ms, tiles), swarmx.Source{})
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := d.Service("tiles")
	if !ok {
		t.Fatal("no tiles service")
	}
	if svc.Replicas() != 2 {
		t.Errorf("replicas %d", svc.Replicas())
	}
	var conf string
	for _, c := range d.Configs {
		if c.Logical == "tiles-xml" {
			conf = string(c.Spec.Data)
		}
	}
	// The configuration is well-formed XML with the source URL, layers and grids.
	var doc struct {
		Sources []struct {
			Name   string `xml:"name,attr"`
			URL    string `xml:"http>url"`
			Layers string `xml:"getmap>params>LAYERS"`
		} `xml:"source"`
		Tilesets []struct {
			Name   string   `xml:"name,attr"`
			Grids  []string `xml:"grid"`
			Format string   `xml:"format"`
			Cache  string   `xml:"cache"`
		} `xml:"tileset"`
		Cache struct {
			Layout   string  `xml:"layout,attr"`
			Template string  `xml:"template"`
			Base     *string `xml:"base"`
		} `xml:"cache"`
		URL    string `xml:"metadata>url"`
		Locker struct {
			Type      string `xml:"type,attr"`
			Directory string `xml:"directory"`
		} `xml:"locker"`
	}
	if err := xml.Unmarshal([]byte(conf), &doc); err != nil {
		t.Fatalf("mapcache.xml: %v\n%s", err, conf)
	}
	if len(doc.Sources) != 2 || doc.Sources[0].URL != "http://ms:8080/wms" || doc.Sources[0].Layers != "roads" {
		t.Errorf("sources %+v", doc.Sources)
	}
	if len(doc.Tilesets) != 2 || doc.Tilesets[1].Name != "rivers" || strings.Join(doc.Tilesets[1].Grids, ",") != "GoogleMapsCompatible,WGS84" ||
		doc.Tilesets[0].Format != "PNG" || doc.Tilesets[0].Cache != "disk" {
		t.Errorf("tilesets %+v", doc.Tilesets)
	}
	// One file per tile at the path of its XYZ URL: y from the top ({inv_y}), on the volume.
	if doc.Cache.Layout != "template" || doc.Cache.Base != nil ||
		doc.Cache.Template != CacheDir+"/{tileset}/{grid}/{z}/{x}/{inv_y}.{ext}" || doc.URL != "https://maps.example.org/" {
		t.Errorf("cache %+v url %q", doc.Cache, doc.URL)
	}
	// Locks live on the cache volume, shared by the service's tasks and the seeding job (a
	// directory private to each container, such as /tmp, would let them render a tile twice).
	if doc.Locker.Type != "disk" || doc.Locker.Directory != CacheDir+"/.locks" {
		t.Errorf("locker %+v", doc.Locker)
	}
	cs := svc.Spec.TaskTemplate.ContainerSpec
	if len(cs.Configs) != 1 || cs.Configs[0].File.Name != ConfigPath {
		t.Errorf("configs %+v", cs.Configs)
	}
	if len(cs.Mounts) != 1 || cs.Mounts[0].Target != CacheDir || cs.Mounts[0].Source != "mc_tilecache" {
		t.Errorf("mounts %+v", cs.Mounts)
	}
	if cs.Healthcheck == nil || !strings.Contains(strings.Join(cs.Healthcheck.Test, " "), "WMTSCapabilities.xml") {
		t.Errorf("health %+v", cs.Healthcheck)
	}
	if strings.Join(svc.DependsOn, ",") != "ms" {
		t.Errorf("dependsOn %v", svc.DependsOn)
	}
	pub := map[stack.EndpointKind]string{}
	for _, ep := range svc.Endpoints {
		pub[ep.Kind] = ep.Public
		if ep.Kind == stack.XYZ {
			if strings.Join(ep.Layers, ",") != "roads@GoogleMapsCompatible.png" || ep.Path != "/mapcache/gmaps" {
				t.Errorf("XYZ endpoint %+v", ep)
			}
			continue
		}
		if strings.Join(ep.Layers, ",") != "roads,rivers" {
			t.Errorf("endpoint %s layers %v", ep.Kind, ep.Layers)
		}
	}
	if pub[stack.WMTS] != "/wmts" || pub[stack.TMS] != "/tms" || pub[stack.WMS] != "" || pub[stack.XYZ] != "/xyz" {
		t.Errorf("public prefixes %v", pub)
	}

	// The seeding job: a replicated job on the same config and volume, as www-data.
	job, ok := d.Service("tiles-seed")
	if !ok {
		t.Fatal("no seeding job")
	}
	if !job.IsJob() || job.Spec.Mode.ReplicatedJob == nil {
		t.Fatalf("mode %+v", job.Spec.Mode)
	}
	jcs := job.Spec.TaskTemplate.ContainerSpec
	if jcs.User != "www-data" || jcs.Mounts[0].Source != "mc_tilecache" || jcs.Configs[0].ConfigName != cs.Configs[0].ConfigName {
		t.Errorf("job container %+v", jcs)
	}
	cmd := strings.Join(jcs.Command, " ")
	if !strings.HasPrefix(cmd, "sh -ec mkdir -p "+CacheDir+"/.locks\n") {
		t.Errorf("the seeding job does not make the lock directory first: %s", cmd)
	}
	for _, want := range []string{"mapcache_seed -c " + ConfigPath + " -t roads -g GoogleMapsCompatible -z 0,5",
		"-e -556597.45,5012341.66,1113194.91,6621293.72"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("seed command lacks %q: %s", want, cmd)
		}
	}
	if strings.Contains(cmd, "rivers") {
		t.Errorf("seed command seeds a layer not asked for: %s", cmd)
	}
}

func TestMapCacheValidation(t *testing.T) {
	noWMS := &stack.Service{Name: "db", Image: "kargo/postgis:15-3.3"}
	cases := []struct {
		name  string
		parts func() []stack.Part
		path  string
	}{
		{"no source", func() []stack.Part { return []stack.Part{New(Config{Layers: []string{"a"}})} }, "config.source"},
		{"source without WMS", func() []stack.Part {
			return []stack.Part{noWMS, New(Config{Source: noWMS, Layers: []string{"a"}})}
		}, "config.source"},
		{"unknown grid", func() []stack.Part {
			return []stack.Part{wmsSource(), New(Config{Source: wmsSource(), Layers: []string{"a"}, Grids: []Grid{WGS84, "Mercator"}})}
		}, "config.grids[1]"},
		{"no layers", func() []stack.Part { return []stack.Part{wmsSource(), New(Config{Source: wmsSource()})} }, "config.layers"},
		{"bad layer", func() []stack.Part {
			return []stack.Part{wmsSource(), New(Config{Source: wmsSource(), Layers: []string{"a b"}})}
		}, "config.layers[0]"},
		{"bad zoom", func() []stack.Part {
			return []stack.Part{wmsSource(), New(Config{Source: wmsSource(), Layers: []string{"a"}, Seed: &Seed{MinZoom: 4, MaxZoom: 2}})}
		}, "config.seed"},
		{"seed grid not cached", func() []stack.Part {
			return []stack.Part{wmsSource(), New(Config{Source: wmsSource(), Layers: []string{"a"}, Seed: &Seed{Grids: []Grid{WGS84}}})}
		}, "config.seed.grids[0]"},
		{"bad bbox", func() []stack.Part {
			return []stack.Part{wmsSource(), New(Config{Source: wmsSource(), Layers: []string{"a"}, Seed: &Seed{BBox: [4]float64{10, 0, 5, 1}}})}
		}, "config.seed.bbox"},
		{"bad format", func() []stack.Part {
			return []stack.Part{wmsSource(), New(Config{Source: wmsSource(), Layers: []string{"a"}, Format: "GIF"})}
		}, "config.format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := stack.New("mc", tc.parts()...).Validate()
			ve, ok := err.(*stack.ValidationError)
			want := "services[mapcache]." + tc.path
			if !ok || !ve.Has(want) {
				t.Fatalf("want a problem at %s, got %v", want, err)
			}
		})
	}
}

func TestMercatorExtent(t *testing.T) {
	if got := extent(WGS84, [4]float64{-5, 41, 10, 51}); got != "-5,41,10,51" {
		t.Errorf("WGS84 extent %s", got)
	}
	if got := extent(GoogleMapsCompatible, [4]float64{-180, -90, 180, 90}); got != "-20037508.34,-20037508.34,20037508.34,20037508.34" {
		t.Errorf("world extent %s", got)
	}
}

func TestVectorTiles(t *testing.T) {
	ms := wmsSource()
	tiles := New(Config{Common: builder.Common{Name: "tiles"}, Source: ms, Layers: []string{"roads", "cities"}, VectorTiles: true, MetaTile: [2]int{4, 4},
		Seed: &Seed{MinZoom: 0, MaxZoom: 2}})
	if err := stack.New("mc", ms, tiles).Validate(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Formats []struct {
			Name string `xml:"name,attr"`
			Type string `xml:"type,attr"`
			Mime string `xml:"mime_type"`
			Ext  string `xml:"extension"`
		} `xml:"format"`
		Sources []struct {
			Name   string `xml:"name,attr"`
			Format string `xml:"getmap>params>FORMAT"`
			Layers string `xml:"getmap>params>LAYERS"`
		} `xml:"source"`
		Tilesets []struct {
			Name     string `xml:"name,attr"`
			Source   string `xml:"source"`
			Format   string `xml:"format"`
			MetaTile string `xml:"metatile"`
		} `xml:"tileset"`
		Services []struct {
			Type    string `xml:"type,attr"`
			Enabled string `xml:"enabled,attr"`
		} `xml:"service"`
	}
	if err := xml.Unmarshal(tiles.XML, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Formats) != 1 || doc.Formats[0].Type != "RAW" || doc.Formats[0].Mime != MVT || doc.Formats[0].Ext != "mvt" {
		t.Errorf("formats %+v", doc.Formats)
	}
	src := map[string]string{}
	for _, s := range doc.Sources {
		src[s.Name] = s.Format + " " + s.Layers
	}
	if src["cities-mvt"] != MVT+" cities" || src["cities"] != "image/png cities" {
		t.Errorf("sources %v", src)
	}
	ts := map[string]string{}
	for _, s := range doc.Tilesets {
		ts[s.Name] = s.Source + " " + s.Format + " " + s.MetaTile
	}
	// MapCache cannot split a vector metatile: one tile per request.
	if ts["roads-mvt"] != "roads-mvt mvt 1 1" || ts["roads"] != "roads PNG 4 4" || len(ts) != 4 {
		t.Errorf("tilesets %v", ts)
	}
	gmaps := false
	for _, s := range doc.Services {
		gmaps = gmaps || s.Type == "gmaps" && s.Enabled == "true"
	}
	if !gmaps {
		t.Errorf("XYZ (gmaps) service not enabled: %+v", doc.Services)
	}
	for _, ep := range tiles.Service.Endpoints {
		switch ep.Kind {
		case stack.WMTS, stack.TMS:
			if strings.Join(ep.Layers, ",") != "roads,cities,roads-mvt,cities-mvt" {
				t.Errorf("%s layers %v", ep.Kind, ep.Layers)
			}
		case stack.XYZ:
			if strings.Join(ep.Layers, ",") != "roads@GoogleMapsCompatible.png,roads-mvt@GoogleMapsCompatible.mvt" {
				t.Errorf("XYZ layers %v", ep.Layers)
			}
		}
	}
	// The seeding job seeds the vector tilesets too.
	if cmd := strings.Join(tiles.Seed.Command, " "); !strings.Contains(cmd, "-t cities-mvt ") {
		t.Errorf("seed command %s", cmd)
	}
	bad := New(Config{Common: builder.Common{Name: "tiles"}, Source: ms, Layers: []string{"roads", "roads-mvt"}, VectorTiles: true})
	if err := stack.New("mc", ms, bad).Validate(); err == nil || !strings.Contains(err.Error(), "config.layers[1]") {
		t.Errorf("a layer named like a vector tileset: %v", err)
	}
}

func TestServicesAndCommonReachTheSeedingJob(t *testing.T) {
	src := &stack.Service{Name: "ms", Image: "ms", Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms"}}}
	c := New(Config{Common: builder.Common{Name: "tiles", Env: map[string]string{"HTTP_PROXY": "http://proxy:3128"},
		Networks: []string{"back"}}, Source: src, Layers: []string{"roads"}, Seed: &Seed{MaxZoom: 2}})
	if got := c.Services(); len(got) != 2 || got[0] != c.Service || got[1] != c.Seed {
		t.Fatalf("Services() = %v, want the cache service then the seeding job", got)
	}
	for _, svc := range c.Services() {
		if svc.Env["HTTP_PROXY"] != "http://proxy:3128" || len(svc.Networks) != 1 || svc.Networks[0] != "back" {
			t.Errorf("%s: env %v, networks %v", svc.Name, svc.Env, svc.Networks)
		}
	}
	if got := New(Config{Source: src, Layers: []string{"roads"}}).Services(); len(got) != 1 {
		t.Errorf("without seeding, Services() = %v", got)
	}
}

func TestMapCacheFilesForTheGateway(t *testing.T) {
	ms := wmsSource()
	tiles := New(Config{Common: builder.Common{Name: "tiles"}, Source: ms, Layers: []string{"roads"}, VectorTiles: true, Volume: "tc", Expires: 90 * time.Second})
	routes := gateway.OGC(ms, tiles)
	files := map[string]*gateway.Files{}
	for _, r := range routes {
		files[r.Prefix] = r.Files
	}
	// XYZ and WMTS RESTful tiles are files of the volume; TMS (y from the bottom), WMS and
	// the source's routes are not.
	if files["/tms"] != nil || files["/wms"] != nil || len(files) != 4 {
		t.Fatalf("files by prefix %v", files)
	}
	for prefix, c := range map[string]struct{ path, file string }{
		"/xyz":  {"/roads-mvt@GoogleMapsCompatible/6/32/22.mvt", "/roads-mvt/GoogleMapsCompatible/6/32/22.mvt"},
		"/wmts": {"/1.0.0/roads/default/GoogleMapsCompatible/6/22/32.png", "/roads/GoogleMapsCompatible/6/32/22.png"},
	} {
		f := files[prefix]
		if f == nil || f.Volume != "tc" || f.MaxAge != 90*time.Second || f.Types[".mvt"] != MVT {
			t.Fatalf("%s: files %+v", prefix, f)
		}
		m := regexp.MustCompile("^" + f.Match + "$").FindStringSubmatch(c.path)
		if m == nil {
			t.Fatalf("%s: %q does not match %s", prefix, c.path, f.Match)
		}
		got := regexp.MustCompile(`[$]([0-9])`).ReplaceAllStringFunc(f.Path, func(s string) string { return m[s[1]-'0'] })
		if got != c.file {
			t.Errorf("%s%s is the file %s, want %s", prefix, c.path, got, c.file)
		}
	}
	// Paths that are not tiles stored as files (capabilities, other styles, the lock
	// directory) do not match.
	for prefix, paths := range map[string][]string{
		"/xyz":  {"/.locks@x/1/2/3.png", "/roads@GoogleMapsCompatible/1/2/3.png/x", "/roads/GoogleMapsCompatible/1/2/3.png"},
		"/wmts": {"/1.0.0/WMTSCapabilities.xml", "/1.0.0/roads/dark/GoogleMapsCompatible/6/22/32.png", "/1.0.0/roads/default/GoogleMapsCompatible/6/22/../32.png"},
	} {
		re := regexp.MustCompile("^" + files[prefix].Match + "$")
		for _, p := range paths {
			if re.MatchString(p) {
				t.Errorf("%s%s matches the files", prefix, p)
			}
		}
	}
	// The mixed format stores PNG and JPEG under one extension: no files.
	mixed := New(Config{Common: builder.Common{Name: "tiles"}, Source: ms, Layers: []string{"roads"}, Format: Mixed})
	if f := mixed.Files("/xyz"); f != nil {
		t.Errorf("mixed format: files %+v", f)
	}
	// The gateway mounts the volume read-only.
	gw := gateway.New(gateway.Config{Routes: routes})
	d, err := swarmx.Render(stack.New("mc", ms, tiles, gw), swarmx.Source{})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := d.Service("gateway")
	mounts := g.Spec.TaskTemplate.ContainerSpec.Mounts
	if len(mounts) != 1 || mounts[0].Source != "mc_tc" || !mounts[0].ReadOnly || mounts[0].Target != gateway.FilesDir+"/tc" {
		t.Errorf("gateway mounts %+v", mounts)
	}
}

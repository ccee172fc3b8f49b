package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/examples/quickstart/qstack"
	"github.com/kalisio/kargo/internal/enginetest"
	"github.com/kalisio/kargo/ogc"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

var base = fmt.Sprintf("http://127.0.0.1:%d", HTTPPort)

// TestQuickstart deploys the quickstart on the local Swarm and checks every public endpoint,
// scaling, and that PostGIS data survive an update and a full rm + apply.
func TestQuickstart(t *testing.T) {
	a := enginetest.Applier(t)
	a.Ready = ogc.Ready("127.0.0.1", nil)
	enginetest.Cleanup(t, a, Name)
	enginetest.Apply(t, a, Stack(Options{}), swarmx.ApplyOptions{})

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c := &ogc.Client{HTTP: &http.Client{Timeout: 20 * time.Second}}
	// The gateway resolves its backends every 2s: wait until it routes.
	enginetest.Get(t, base+"/wms?SERVICE=WMS&REQUEST=GetCapabilities", 90*time.Second)
	enginetest.Get(t, base+"/wmts/1.0.0/WMTSCapabilities.xml", 90*time.Second)

	t.Run("capabilities", func(t *testing.T) {
		for _, tc := range []struct {
			svc    ogc.Service
			path   string
			layers []string
		}{
			{ogc.WMS, "/wms", []string{"elevation", "zones", "roads", "cities"}},
			{ogc.WFS, "/wfs", []string{"zones", "roads", "cities"}},
			{ogc.WCS, "/wcs", []string{"elevation"}},
			{ogc.WMTS, "/wmts", append([]string{"roads-mvt", "cities-mvt"}, qstack.TiledLayers...)},
		} {
			caps, err := c.GetCapabilities(ctx, tc.svc, base+tc.path)
			if err != nil {
				t.Fatalf("%s: %v", tc.svc, err)
			}
			if m := caps.Missing(tc.layers); len(m) > 0 {
				t.Errorf("%s capabilities lack %v (have %v)", tc.svc, m, caps.LayerNames())
			}
			t.Logf("%s %s: %v", tc.svc, caps.Version, caps.LayerNames())
		}
		caps, _ := c.GetCapabilities(ctx, ogc.WMTS, base+"/wmts/1.0.0/WMTSCapabilities.xml")
		if caps == nil || caps.TileMatrixSet("GoogleMapsCompatible") == nil {
			t.Errorf("RESTful WMTS capabilities lack GoogleMapsCompatible")
		}
		// MapServer advertises the gateway's URL, which clients such as QGIS or OWSLib follow.
		for _, path := range []string{"/wms", "/wfs", "/wcs"} {
			assertOnlineResource(t, http.DefaultClient, base+path)
		}
		// Links a client follows point at the gateway's routes, not at MapCache's own paths.
		doc := string(enginetest.Get(t, base+"/wmts/1.0.0/WMTSCapabilities.xml", 30*time.Second))
		if !strings.Contains(doc, base+"/wmts/1.0.0/roads/") || strings.Contains(doc, "/mapcache/") {
			t.Errorf("WMTS capabilities do not advertise %s/wmts/1.0.0/roads/...: %.600s", base, doc)
		}
	})

	t.Run("wms-getmap", func(t *testing.T) {
		// Around Paris (EPSG:4326 is latitude first); Paris is drawn as a 12 px red disc.
		img, _, err := c.GetMap(ctx, base+"/wms", ogc.MapRequest{Layers: []string{"cities"}, CRS: "EPSG:4326",
			BBox: [4]float64{48.3, 1.8, 49.4, 2.9}, Width: 256, Height: 256})
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
			t.Fatalf("size %v, want 256x256", b)
		}
		parisLon, parisLat := 2.3522, 48.8566
		px := int((parisLon - 1.8) / 1.1 * 256)
		py := int((49.4 - parisLat) / 1.1 * 256)
		if !near(img, px, py, 3, qstack.CityColor) {
			t.Errorf("no %s pixel around Paris (%d,%d): %v", qstack.CityColor, px, py, img.At(px, py))
		}
		if near(img, 10, 10, 3, qstack.CityColor) {
			t.Errorf("city colour far from any city")
		}
		// The whole map: many colours (raster ramp, zones, roads, cities).
		img, _, err = c.GetMap(ctx, base+"/wms", ogc.MapRequest{Layers: []string{"elevation", "zones", "roads", "cities"},
			BBox: [4]float64{41, -5, 52, 10}, Width: 600, Height: 440})
		if err != nil {
			t.Fatal(err)
		}
		if n := distinctColors(img); n < 20 {
			t.Errorf("full map has %d distinct colours: blank?", n)
		}
		// Each vector layer is drawn, not only the raster: count pixels of its own colour.
		for name, hex := range map[string]string{"motorways": qstack.MotorwayColor, "cities": qstack.CityColor} {
			if n := countColor(img, hex); n < 30 {
				t.Errorf("full map has %d pixels of the %s colour %s", n, name, hex)
			}
		}
		if b := img.Bounds(); b.Dx() != 600 || b.Dy() != 440 {
			t.Errorf("size %v, want 600x440", b)
		}
	})

	t.Run("wfs-getfeature", func(t *testing.T) {
		for layer, want := range map[string]int{"cities": Cities, "roads": Roads, "zones": Zones} {
			n, err := c.GetFeatureHits(ctx, base+"/wfs", layer)
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("%s: %d features, want %d", layer, n, want)
			}
		}
		fc, err := c.GetFeatures(ctx, base+"/wfs", "cities", "geojson", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(fc.Features) != Cities {
			t.Errorf("GeoJSON: %d features, want %d", len(fc.Features), Cities)
		}
		found := false
		for _, f := range fc.Features {
			if fmt.Sprint(f.Properties["id"]) == "1" {
				found = true
				if f.Properties["name"] != "Paris" || f.Properties["kind"] != "city" || f.Properties["population"] != float64(2133111) {
					t.Errorf("feature 1 = %v", f.Properties)
				}
			}
		}
		if !found {
			t.Error("no feature with id 1")
		}
	})

	t.Run("wcs-getcoverage", func(t *testing.T) {
		r, err := c.GetCoverage(ctx, base+"/wcs", ogc.CoverageRequest{CoverageID: "elevation", ScaleSize: "long(100),lat(80)"})
		if err != nil {
			t.Fatal(err)
		}
		w, h, err := ogc.TIFFSize(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		if w != 100 || h != 80 || !ogc.IsGeoTIFF(r.Body) {
			t.Errorf("coverage %dx%d geotiff=%v, want a 100x80 GeoTIFF", w, h, ogc.IsGeoTIFF(r.Body))
		}
	})

	t.Run("wmts-gettile-cached", func(t *testing.T) {
		u := ogc.GetTileURL(base+"/wmts", "roads", "GoogleMapsCompatible", "6", 22, 32, "image/png")
		before := mapserverGetMaps(t)
		img, _, err := c.GetTile(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
			t.Fatalf("tile %v, want 256x256", b)
		}
		time.Sleep(2 * time.Second)
		after1 := mapserverGetMaps(t)
		if after1 <= before {
			t.Errorf("first GetTile made no GetMap on MapServer (%d -> %d)", before, after1)
		}
		if _, _, err := c.GetTile(ctx, u); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if after2 := mapserverGetMaps(t); after2 != after1 {
			t.Errorf("second GetTile reached MapServer (%d -> %d GetMap): not served from the cache", after1, after2)
		}
		// RESTful and TMS.
		enginetest.Get(t, base+"/wmts/1.0.0/cities/default/GoogleMapsCompatible/5/11/16.png", 30*time.Second)
		enginetest.Get(t, base+"/tms/1.0.0/", 30*time.Second)
	})

	t.Run("https", func(t *testing.T) {
		// Trust the gateway's local CA as a user would: read it from a running gateway task.
		ids := waitRunning(t, enginetest.Require(t), Name+"_gateway", 1, time.Minute)
		pemCA := enginetest.Docker(t, "exec", ids[0], "cat", gateway.RootCAPath)
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(pemCA)) {
			t.Fatalf("%s holds no certificate: %.200s", gateway.RootCAPath, pemCA)
		}
		hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		sc := &ogc.Client{HTTP: hc}
		secure := fmt.Sprintf("https://127.0.0.1:%d", HTTPSPort)
		for _, tc := range []struct {
			svc    ogc.Service
			path   string
			layers []string
		}{
			{ogc.WMS, "/wms", []string{"cities"}},
			{ogc.WFS, "/wfs", []string{"cities"}},
			{ogc.WCS, "/wcs", []string{"elevation"}},
			{ogc.WMTS, "/wmts", qstack.TiledLayers},
		} {
			caps, err := sc.GetCapabilities(ctx, tc.svc, secure+tc.path)
			if err != nil {
				t.Fatalf("%s over HTTPS: %v", tc.svc, err)
			}
			if m := caps.Missing(tc.layers); len(m) > 0 {
				t.Errorf("%s over HTTPS lacks %v", tc.svc, m)
			}
		}
		assertOnlineResource(t, hc, secure+"/wms")
		// OGC API links follow the scheme and port the client used.
		if l, err := sc.Landing(ctx, secure+"/ogcapi"); err != nil {
			t.Error(err)
		} else {
			assertLinks(t, l.Links, secure+"/ogcapi")
		}
		if n, err := sc.GetFeatureHits(ctx, secure+"/wfs", "cities"); err != nil || n < Cities {
			t.Errorf("WFS hits over HTTPS = %d, %v; want at least %d", n, err, Cities)
		}
	})

	t.Run("operate", func(t *testing.T) {
		// Prometheus through the gateway: every target up.
		var targets struct {
			Data struct {
				ActiveTargets []struct {
					Labels map[string]string `json:"labels"`
					Health string            `json:"health"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		down := []string{"none"}
		for end := time.Now().Add(2 * time.Minute); time.Now().Before(end) && len(down) > 0; time.Sleep(2 * time.Second) {
			if err := json.Unmarshal(enginetest.Get(t, base+"/prometheus/api/v1/targets", time.Minute), &targets); err != nil {
				t.Fatal(err)
			}
			down = nil
			for _, tg := range targets.Data.ActiveTargets {
				if tg.Health != "up" {
					down = append(down, tg.Labels["job"]+" "+tg.Labels["instance"])
				}
			}
			if len(targets.Data.ActiveTargets) < 8 {
				down = append(down, fmt.Sprintf("only %d targets", len(targets.Data.ActiveTargets)))
			}
		}
		if len(down) > 0 {
			t.Errorf("Prometheus targets not up: %v", down)
		}
		// A backup now.
		var out, errb strings.Builder
		phase := time.Now()
		if err := kargo.Run(ctx, []string{"backup"}, Stack(Options{}), kargo.Options{Stdout: &out, Stderr: &errb}); err != nil {
			t.Fatalf("backup: %v\n%s", err, errb.String())
		}
		t.Logf("backup: %s: %s", time.Since(phase).Round(time.Millisecond), strings.TrimSpace(out.String()))
		if !strings.Contains(out.String(), "succeeded") {
			t.Errorf("backup: %q", out.String())
		}
	})

	t.Run("ogcapi-features", func(t *testing.T) { testOGCAPIFeatures(ctx, t, c) })
	t.Run("vector-tiles", func(t *testing.T) { testVectorTiles(ctx, t, c) })
	t.Run("owslib", testOWSLib)

	t.Run("scale-to-3", func(t *testing.T) {
		cli := enginetest.Require(t)
		name := Name + "_mapserver"
		// Through the SDK: the same stack with three MapServer replicas updates that service only.
		res := enginetest.Apply(t, a, Stack(Options{MapServerReplicas: 3}), swarmx.ApplyOptions{})
		var changes []swarmx.Action
		for _, ch := range res.Plan.Changes() {
			// Prometheus' rules count MapServer's replicas: they change with them.
			if !strings.HasPrefix(ch.Name, Name+"_prometheus-rules") && ch.Name != Name+"_prometheus" {
				changes = append(changes, ch)
			}
		}
		if len(changes) != 1 || changes[0].Name != name || strings.Join(changes[0].Changes, ",") != "Mode.Replicated.Replicas" {
			t.Fatalf("scaling planned %v, want only %s Mode.Replicated.Replicas", changes, name)
		}
		ids := waitRunning(t, cli, name, 3, 3*time.Minute)
		served := map[string]int{}
		deadline := time.Now().Add(90 * time.Second)
		for i := 0; i < 300 && time.Now().Before(deadline) && len(served) < 3; i++ {
			resp, err := http.Get(base + "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					served[resp.Header.Get("X-Served-By")]++
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, id := range ids {
			if served[id[:12]] == 0 {
				t.Errorf("task container %s served no request (served: %v)", id[:12], served)
			}
		}
		t.Logf("requests per task: %v", served)
	})

	t.Run("postgis-data-survive", func(t *testing.T) {
		// A row added after the first start: a re-initialised database would not have it.
		psql(t, "INSERT INTO cities (id, name, kind, population, geom) VALUES (1000, 'Kargo', 'village', 1, ST_SetSRID(ST_MakePoint(2.5, 47), 4326))")
		waitHits(t, c, Cities+1, time.Minute)
		before := taskIDs(t, enginetest.Require(t), Name+"_db")
		phase := time.Now()
		enginetest.Apply(t, a, Stack(Options{PostGISEnv: map[string]string{"KARGO_QUICKSTART_TEST": "updated"}}), swarmx.ApplyOptions{})
		t.Logf("%s: %s", "update", time.Since(phase).Round(time.Millisecond))
		after := taskIDs(t, enginetest.Require(t), Name+"_db")
		if len(after) != 1 || (len(before) == 1 && before[0] == after[0]) {
			t.Errorf("PostGIS task not replaced by the update: %v -> %v", before, after)
		}
		waitHits(t, c, Cities+1, 2*time.Minute)

		rctx, rcancel := context.WithTimeout(ctx, 4*time.Minute)
		defer rcancel()
		phase = time.Now()
		if err := a.Remove(rctx, Name, swarmx.RemoveOptions{Volumes: false}); err != nil {
			t.Fatalf("rm: %v", err)
		}
		t.Logf("rm: %s", time.Since(phase).Round(time.Millisecond))
		// Remove returns once the networks are gone, and keeps the generated password
		// secret with the volume: the data and the password they were initialised with
		// both survive, so MapServer connects again.
		if out, err := exec.Command("docker", "network", "inspect", Name+"_default").CombinedOutput(); err == nil {
			t.Fatalf("network %s_default still there after rm: %s", Name, out)
		}
		phase = time.Now()
		enginetest.Apply(t, a, Stack(Options{}), swarmx.ApplyOptions{})
		t.Logf("%s: %s", "re-apply after rm", time.Since(phase).Round(time.Millisecond))
		enginetest.Get(t, base+"/wms?SERVICE=WMS&REQUEST=GetCapabilities", 90*time.Second)
		waitHits(t, c, Cities+1, 2*time.Minute)
	})
}

func near(img image.Image, x, y, r int, hex string) bool {
	want, _ := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	wr, wg, wb := int(want>>16&0xff), int(want>>8&0xff), int(want&0xff)
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			cr, cg, cb, _ := img.At(x+dx, y+dy).RGBA()
			if abs(int(cr>>8)-wr) < 24 && abs(int(cg>>8)-wg) < 24 && abs(int(cb>>8)-wb) < 24 {
				return true
			}
		}
	}
	return false
}

func distinctColors(img image.Image) int {
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}] = true
		}
	}
	return len(seen)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// mapserverGetMaps counts the GetMap requests in MapServer's access logs.
func mapserverGetMaps(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("docker", "service", "logs", "--raw", Name+"_mapserver").CombinedOutput()
	if err != nil {
		t.Fatalf("docker service logs: %v: %s", err, out)
	}
	return strings.Count(strings.ToLower(string(out)), "request=getmap")
}

func waitRunning(t *testing.T, cli *client.Client, service string, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ids := containerIDs(t, cli, service)
		if len(ids) == n {
			return ids
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("%s: not %d running tasks within %s", service, n, timeout)
	return nil
}

func runningTasks(t *testing.T, cli *client.Client, service string) []swarm.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cli.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", service).Add("desired-state", "running")})
	if err != nil {
		t.Fatal(err)
	}
	var out []swarm.Task
	for _, task := range res.Items {
		if task.Status.State == swarm.TaskStateRunning && task.Status.ContainerStatus != nil {
			out = append(out, task)
		}
	}
	return out
}

func containerIDs(t *testing.T, cli *client.Client, service string) []string {
	var ids []string
	for _, task := range runningTasks(t, cli, service) {
		ids = append(ids, task.Status.ContainerStatus.ContainerID)
	}
	return ids
}

func taskIDs(t *testing.T, cli *client.Client, service string) []string {
	var ids []string
	for _, task := range runningTasks(t, cli, service) {
		ids = append(ids, task.ID)
	}
	return ids
}

func psql(t *testing.T, sql string) {
	t.Helper()
	ids := containerIDs(t, enginetest.Require(t), Name+"_db")
	if len(ids) != 1 {
		t.Fatalf("db containers: %v", ids)
	}
	enginetest.Docker(t, "exec", ids[0], "psql", "-v", "ON_ERROR_STOP=1", "-U", "gis", "-d", "gis", "-c", sql)
}

// waitHits waits (bounded) until WFS counts want cities: MapServer reconnects to a
// restarted PostGIS on the next request.
func waitHits(t *testing.T, c *ogc.Client, want int, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var n int
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		n, err = c.GetFeatureHits(ctx, base+"/wfs", "cities")
		cancel()
		if err == nil && n == want {
			t.Logf("WFS counts %d cities after %s", n, time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("WFS cities: %d (err %v), want %d", n, err, want)
}

// assertOnlineResource checks that every URL a capabilities document advertises (xlink:href)
// starts with the URL it was asked at: the service is reached through the gateway, and
// MapServer must not advertise its own address or a doubled port.
func assertOnlineResource(t *testing.T, hc *http.Client, endpoint string) {
	t.Helper()
	svc := strings.ToUpper(strings.TrimPrefix(endpoint[strings.LastIndex(endpoint, "/"):], "/"))
	resp, err := hc.Get(endpoint + "?SERVICE=" + svc + "&REQUEST=GetCapabilities")
	if err != nil {
		t.Fatalf("%s capabilities: %v", svc, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	hrefs := regexp.MustCompile(`xlink:href="(https?://[^"]*)"`).FindAllStringSubmatch(string(body), -1)
	if len(hrefs) == 0 {
		t.Fatalf("%s capabilities advertise no URL: %.300s", svc, body)
	}
	for _, h := range hrefs {
		if !strings.HasPrefix(h[1], endpoint+"?") {
			t.Errorf("%s capabilities advertise %s, want %s?...", svc, h[1], endpoint)
			return
		}
	}
}

// countColor counts the pixels within a small tolerance of a colour.
func countColor(img image.Image, hex string) int {
	want, _ := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	wr, wg, wb := int(want>>16&0xff), int(want>>8&0xff), int(want&0xff)
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if abs(int(cr>>8)-wr) < 8 && abs(int(cg>>8)-wg) < 8 && abs(int(cb>>8)-wb) < 8 {
				n++
			}
		}
	}
	return n
}

package mapcache_test

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/internal/enginetest"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/mapcache"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

const fakeWMSImage = "kargo-test/fakewms:1"

// registerFakeWMS registers a test-only image holding testdata/fakewms, a tiny WMS that counts
// its GetMap requests, compiled statically for the image.
func registerFakeWMS(t *testing.T) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fakewms")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./testdata/fakewms")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fakewms: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	images.Register(images.Image{Ref: fakeWMSImage, Context: func(context.Context) (map[string]images.File, error) {
		return map[string]images.File{
			"Dockerfile": {Data: []byte("FROM scratch\nCOPY fakewms /fakewms\nEXPOSE 80\nENTRYPOINT [\"/fakewms\"]\n"), Mode: 0o644},
			"fakewms":    {Data: data, Mode: 0o755},
		}, nil
	}})
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("tests only talk to 127.0.0.1, not %s", url)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func sourceCount(t *testing.T) int {
	t.Helper()
	_, b := get(t, "http://127.0.0.1:28181/count")
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("count: %q", b)
	}
	return n
}

func checkTile(t *testing.T, url string) {
	t.Helper()
	resp, b := get(t, url)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: status %d, type %q: %.300s", url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("GET %s: not a PNG", url)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if sz := img.Bounds().Size(); sz.X != 256 || sz.Y != 256 {
		t.Fatalf("GET %s: tile is %v, want 256x256", url, sz)
	}
}

// containerOf returns the ID of a running container of a service of the stack.
func containerOf(t *testing.T, stackName, service string) string {
	t.Helper()
	out := enginetest.Docker(t, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+stackName+"_"+service)
	ids := strings.Fields(out)
	if len(ids) == 0 {
		t.Fatalf("no running container of %s_%s", stackName, service)
	}
	return ids[0]
}

// purge removes what removing the stack leaves behind: Engine 20.10 keeps the containers of
// completed job tasks (the seeding job's) after their service is removed, and they hold the
// cache volume. A stale cache would make the next run's counts wrong, so this fails the test
// when the volume cannot be removed within a minute.
func purge(t *testing.T, stackName string) {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.stack.namespace="+stackName).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	for _, id := range strings.Fields(string(out)) {
		_ = exec.Command("docker", "rm", "-f", id).Run()
	}
	vol := stackName + "_tiles-cache"
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := exec.Command("docker", "volume", "rm", vol).CombinedOutput()
		if err == nil || strings.Contains(strings.ToLower(string(out)), "no such volume") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s cannot be removed: %s", vol, out)
		}
		time.Sleep(time.Second)
	}
}

func TestMapCacheOnSwarm(t *testing.T) {
	registerFakeWMS(t)
	a := enginetest.Applier(t)
	const name = "kargo-it-mapcache"
	t.Cleanup(func() { purge(t, name) }) // runs after the stack's removal
	enginetest.Cleanup(t, a, name)
	purge(t, name)

	src := &stack.Service{
		Name: "wms", Image: fakeWMSImage,
		Ports:     []stack.Port{{Target: 80, Published: 28181}},
		Health:    &stack.Health{Test: []string{"CMD", "/fakewms", "-health"}, Interval: 2 * time.Second, Timeout: 2 * time.Second, Retries: 3},
		Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms", Layers: []string{"roads"}, Public: "/wms"}},
	}
	tiles := mapcache.New(mapcache.Config{
		Common: builder.Common{Name: "tiles", Replicas: 1},
		Source: src, Layers: []string{"roads"},
		Grids:  []mapcache.Grid{mapcache.GoogleMapsCompatible, mapcache.WGS84},
		Format: mapcache.PNG, Volume: "tiles-cache", PublicURL: "http://127.0.0.1:28280/",
		// Around Toulouse, levels 0 to 3 of the Web Mercator grid.
		Seed: &mapcache.Seed{BBox: [4]float64{1, 43, 2, 44}, MinZoom: 0, MaxZoom: 3, Grids: []mapcache.Grid{mapcache.GoogleMapsCompatible}},
	})
	tiles.Service.Ports = []stack.Port{{Target: 80, Published: 28180}}
	gw := gateway.New(gateway.Config{Common: builder.Common{Name: "gw"}, HTTPPort: 28280, Routes: gateway.OGC(src, tiles)})
	st := stack.New(name, src, tiles, gw)
	enginetest.Apply(t, a, st, swarmx.ApplyOptions{})

	// The seeding job ran to completion: 4 tiles (one per level 0..3), fetched from the source.
	ps := enginetest.Docker(t, "service", "ps", "--format", "{{.CurrentState}}", name+"_tiles-seed")
	if !strings.Contains(ps, "Complete") {
		t.Fatalf("seeding job state: %s", ps)
	}
	seeded := sourceCount(t)
	tc := containerOf(t, name, "tiles")
	files := enginetest.Docker(t, "exec", tc, "find", mapcache.CacheDir+"/roads/GoogleMapsCompatible", "-name", "*.png")
	t.Logf("source GetMap after seeding: %d; cached files:\n%s", seeded, files)
	if n := len(strings.Fields(files)); n < 4 || seeded < 4 {
		t.Fatalf("seeding left %d tiles in the cache and made %d source requests, want >= 4", n, seeded)
	}

	// The lock directory is on the volume, owned by www-data, in the service's container as
	// it was in the seeding job's.
	if owner := strings.TrimSpace(enginetest.Docker(t, "exec", tc, "stat", "-c", "%U %F", mapcache.LockDir)); owner != "www-data directory" {
		t.Fatalf("%s: %q, want a directory owned by www-data", mapcache.LockDir, owner)
	}

	// WMTS capabilities (KVP and RESTful) list the layer and both grids; TMS lists the layer.
	base := "http://127.0.0.1:28180/mapcache"
	enginetest.Get(t, base+"/wmts/1.0.0/WMTSCapabilities.xml", time.Minute)
	_, caps := get(t, base+"/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")
	for _, want := range []string{"<ows:Identifier>roads</ows:Identifier>", "GoogleMapsCompatible", "WGS84", "http://127.0.0.1:28280/wmts"} {
		if !bytes.Contains(caps, []byte(want)) {
			t.Fatalf("WMTS capabilities lack %q:\n%.2000s", want, caps)
		}
	}
	if _, tms := get(t, base+"/tms/1.0.0/"); !bytes.Contains(tms, []byte("roads")) {
		t.Fatalf("TMS capabilities lack the layer:\n%.1000s", tms)
	}

	// The WMS facade (the endpoint readiness probes ask) lists the layer too.
	if _, wms := get(t, base+"?SERVICE=WMS&REQUEST=GetCapabilities"); !bytes.Contains(wms, []byte("<Name>roads</Name>")) {
		t.Fatalf("WMS capabilities lack the layer:\n%.1000s", wms)
	}

	// A tile not seeded: fetched from the source once, then served from the cache.
	tile := base + "/wmts/1.0.0/roads/default/GoogleMapsCompatible/6/23/32.png"
	before := sourceCount(t)
	t0 := time.Now()
	checkTile(t, tile)
	first := time.Since(t0)
	afterFirst := sourceCount(t)
	if afterFirst != before+1 {
		t.Fatalf("first GetTile made %d source requests, want 1", afterFirst-before)
	}
	t0 = time.Now()
	checkTile(t, tile)
	second := time.Since(t0)
	if n := sourceCount(t); n != afterFirst {
		t.Fatalf("second GetTile made %d source requests, want 0 (served from cache)", n-afterFirst)
	}
	t.Logf("first GetTile %v, second (cached) %v", first, second)
	// Stored at the path of its XYZ URL: <z>/<x = TileCol>/<y = TileRow>.
	if out := enginetest.Docker(t, "exec", tc, "find", mapcache.CacheDir+"/roads/GoogleMapsCompatible/6", "-name", "*.png"); strings.TrimSpace(out) != mapcache.CacheDir+"/roads/GoogleMapsCompatible/6/32/23.png" {
		t.Fatalf("cache holds %q for level 6, want the one tile file 6/32/23.png", out)
	}
	// KVP GetTile of a seeded tile (level 0) does not reach the source.
	checkTile(t, base+"/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=roads&STYLE=default&TILEMATRIXSET=GoogleMapsCompatible&TILEMATRIX=0&TILEROW=0&TILECOL=0&FORMAT=image/png")
	if n := sourceCount(t); n != afterFirst {
		t.Fatalf("GetTile of a seeded tile made %d source requests", n-afterFirst)
	}
	// TMS and the WGS84 grid.
	checkTile(t, base+"/tms/1.0.0/roads@WGS84/1/2/1.png")

	// Through the gateway: /wmts and /tms reach MapCache, /wms the source.
	gwBase := "http://127.0.0.1:28280"
	enginetest.Get(t, gwBase+"/healthz", time.Minute)
	checkTile(t, gwBase+"/wmts/1.0.0/roads/default/GoogleMapsCompatible/6/23/32.png")
	checkTile(t, gwBase+"/tms/1.0.0/roads@GoogleMapsCompatible/6/32/40.png")
	if _, b := get(t, gwBase+"/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"); !bytes.Contains(b, []byte("<ows:Identifier>roads</ows:Identifier>")) {
		t.Fatalf("WMTS capabilities through the gateway:\n%.1000s", b)
	}
	if _, b := get(t, gwBase+"/wms?SERVICE=WMS&REQUEST=GetCapabilities"); !bytes.Contains(b, []byte("<Name>roads</Name>")) {
		t.Fatalf("WMS capabilities through the gateway:\n%.1000s", b)
	}

	tilesFromFiles(t, tc)
}

func getWith(t *testing.T, url string, h http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// tilesFromFiles checks that the gateway answers XYZ and WMTS RESTful tiles from MapCache's
// files once cached, and asks MapCache (which renders and stores them) otherwise. MapCache
// never sends an ETag and Caddy's file_server always does, so the ETag tells who answered;
// the fake source paints each tile it renders differently, so equal bytes mean one rendering.
func tilesFromFiles(t *testing.T, tc string) {
	gwBase := "http://127.0.0.1:28280"
	xyz := gwBase + "/xyz/roads@GoogleMapsCompatible/7/64/44.png"
	file := mapcache.CacheDir + "/roads/GoogleMapsCompatible/7/64/44.png"
	before := sourceCount(t)
	if out := enginetest.Docker(t, "exec", tc, "sh", "-c", "test -e "+file+" && echo present || echo absent"); strings.TrimSpace(out) != "absent" {
		t.Fatalf("%s before the first request: %s", file, out)
	}
	// A miss falls back to MapCache: rendered once, stored, no ETag.
	first, b1 := get(t, xyz)
	if first.StatusCode != 200 || first.Header.Get("Content-Type") != "image/png" || first.Header.Get("Etag") != "" {
		t.Fatalf("first XYZ tile: status %d, headers %v", first.StatusCode, first.Header)
	}
	if n := sourceCount(t); n != before+1 {
		t.Fatalf("first XYZ tile made %d source requests, want 1", n-before)
	}
	stored := enginetest.Docker(t, "exec", tc, "cat", file)
	if stored != string(b1) {
		t.Fatalf("%s (%d bytes) is not the tile MapCache answered (%d bytes)", file, len(stored), len(b1))
	}
	// Fetched again: the file, from the gateway (ETag, Last-Modified, Cache-Control of the
	// cache's Expires), the same bytes, no source request.
	second, b2 := get(t, xyz)
	etag := second.Header.Get("Etag")
	if second.StatusCode != 200 || etag == "" || second.Header.Get("Last-Modified") == "" ||
		second.Header.Get("Cache-Control") != "public, max-age=3600" || second.Header.Get("Content-Type") != "image/png" || !bytes.Equal(b1, b2) {
		t.Fatalf("second XYZ tile: status %d, headers %v, same bytes %v", second.StatusCode, second.Header, bytes.Equal(b1, b2))
	}
	// The WMTS RESTful URL of the same tile (TileRow 44, TileCol 64) is the same file.
	wmts, b3 := get(t, gwBase+"/wmts/1.0.0/roads/default/GoogleMapsCompatible/7/44/64.png")
	if wmts.StatusCode != 200 || wmts.Header.Get("Etag") != etag || !bytes.Equal(b1, b3) {
		t.Fatalf("WMTS tile 7/44/64: status %d, headers %v, same bytes %v", wmts.StatusCode, wmts.Header, bytes.Equal(b1, b3))
	}
	// And MapCache agrees on the axes: its own WMTS, XYZ and TMS (y from the bottom:
	// 2^7-1-44 = 83) answers of that tile are that rendering, with no new source request.
	for _, u := range []string{"/wmts/1.0.0/roads/default/GoogleMapsCompatible/7/44/64.png", "/gmaps/roads@GoogleMapsCompatible/7/64/44.png", "/tms/1.0.0/roads@GoogleMapsCompatible/7/64/83.png"} {
		if _, b := get(t, "http://127.0.0.1:28180/mapcache"+u); !bytes.Equal(b, b1) {
			t.Errorf("MapCache's %s is another tile", u)
		}
	}
	if n := sourceCount(t); n != before+1 {
		t.Fatalf("the cached tile made %d more source requests", n-before-1)
	}
	// A client holding the tile asks again: 304, no body.
	nm, b4 := getWith(t, xyz, http.Header{"If-None-Match": {etag}})
	if nm.StatusCode != http.StatusNotModified || len(b4) != 0 {
		t.Fatalf("If-None-Match: status %d, %d bytes", nm.StatusCode, len(b4))
	}
	// A WMTS tile not cached yet also falls back to MapCache, then is a file.
	miss, _ := get(t, gwBase+"/wmts/1.0.0/roads/default/GoogleMapsCompatible/7/45/64.png")
	if miss.StatusCode != 200 || miss.Header.Get("Etag") != "" {
		t.Fatalf("WMTS miss: status %d, headers %v", miss.StatusCode, miss.Header)
	}
	if n := sourceCount(t); n != before+2 {
		t.Fatalf("WMTS miss made %d source requests, want 1", n-before-1)
	}
	if again, _ := get(t, gwBase+"/xyz/roads@GoogleMapsCompatible/7/64/45.png"); again.Header.Get("Etag") == "" {
		t.Fatalf("the WMTS miss is not a file for XYZ: headers %v", again.Header)
	}
}

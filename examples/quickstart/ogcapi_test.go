package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/ogc"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
)

// northBBox holds 63 of the generated cities (0..5°E, 47..50°N): several pages of 10.
var northBBox = [4]float64{0, 47, 5, 50}

// testOGCAPIFeatures checks OGC API – Features through the gateway: links on the gateway's
// URL, the collections, items in a bbox paged through next links up to the WFS count, a
// single item and the HTML pages.
func testOGCAPIFeatures(ctx context.Context, t *testing.T, c *ogc.Client) {
	root := base + "/ogcapi"
	l, err := c.Landing(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	assertLinks(t, l.Links, root)
	if l.Title != "Kargo quickstart" {
		t.Errorf("landing title %q", l.Title)
	}
	cf, err := c.Conformance(ctx, root)
	if err != nil || !strings.Contains(strings.Join(cf.ConformsTo, " "), "ogcapi-features-1/1.0/conf/core") {
		t.Errorf("conformance %+v, %v", cf, err)
	}

	cs, err := c.Collections(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	ids := cs.IDs()
	sort.Strings(ids)
	if strings.Join(ids, ",") != "cities,roads,zones" { // the elevation raster is no collection
		t.Errorf("collections %v, want cities, roads, zones", ids)
	}
	assertLinks(t, cs.Links, root+"/collections")
	for _, col := range cs.Collections {
		assertLinks(t, col.Links, root+"/collections/"+col.ID)
	}

	// Items in a bbox, 10 per page, following next links: every feature inside the bbox,
	// each once, as many as WFS counts in the same bbox.
	b := northBBox
	want, err := c.GetFeatureHits(ctx, fmt.Sprintf("%s/wfs?BBOX=%g,%g,%g,%g,urn:ogc:def:crs:EPSG::4326", base, b[1], b[0], b[3], b[2]), "cities")
	if err != nil {
		t.Fatal(err)
	}
	if want <= 10 || want >= Cities {
		t.Fatalf("WFS counts %d cities in %v: the bbox should hold several pages, not all", want, b)
	}
	page, err := c.Items(ctx, root, "cities", ogc.ItemsRequest{BBox: b, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	pages := 0
	for page != nil && pages < 50 {
		pages++
		if len(page.Features) > 10 || page.NumberMatched != want {
			t.Errorf("page %d: %d features, numberMatched %d (want at most 10, %d)", pages, len(page.Features), page.NumberMatched, want)
		}
		assertLinks(t, page.Links, root+"/collections/cities/items?")
		for _, f := range page.Features {
			var g struct{ Coordinates [2]float64 }
			if err := json.Unmarshal(f.Geometry, &g); err != nil {
				t.Fatalf("geometry %s: %v", f.Geometry, err)
			}
			if x, y := g.Coordinates[0], g.Coordinates[1]; x < b[0] || x > b[2] || y < b[1] || y > b[3] {
				t.Errorf("feature %v at %v is outside %v", f.ID, g.Coordinates, b)
			}
			id := fmt.Sprint(f.ID)
			if seen[id] {
				t.Errorf("feature %s on two pages", id)
			}
			seen[id] = true
		}
		next := page.Next()
		if next == "" {
			break
		}
		if page, err = c.ItemsPage(ctx, next); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != want || pages != (want+9)/10 {
		t.Errorf("next links gave %d features in %d pages, want %d (WFS hits) in %d", len(seen), pages, want, (want+9)/10)
	}
	t.Logf("%d cities in %v over %d pages", len(seen), b, pages)

	f, err := c.Item(ctx, root, "cities", "1")
	if err != nil {
		t.Fatal(err)
	}
	if f.Properties["name"] != "Paris" || f.Properties["kind"] != "city" || fmt.Sprint(f.ID) != "1" {
		t.Errorf("item 1 = %v %v", f.ID, f.Properties)
	}
	if _, err := c.Item(ctx, root, "cities", "99999"); err == nil {
		t.Error("an unknown item id answered")
	}

	// HTML for browsers, with the same links.
	r, err := c.Get(ctx, root+"/collections?f=html")
	if err != nil || !strings.HasPrefix(r.ContentType, "text/html") || !strings.Contains(string(r.Body), `href="`+root+`/collections/cities?f=html"`) {
		t.Errorf("HTML collections (%v): %s %.300s", err, r.ContentType, r.Body)
	}
}

// assertLinks checks that every link starts with prefix: the gateway's public URL.
func assertLinks(t *testing.T, links ogc.Links, prefix string) {
	t.Helper()
	if len(links) == 0 {
		t.Errorf("no links (want them under %s)", prefix)
	}
	for _, l := range links {
		if !strings.HasPrefix(l.Href, prefix) {
			t.Errorf("link %s %s is not under %s", l.Rel, l.Href, prefix)
		}
	}
}

// testVectorTiles reads the vector tile over Paris through the gateway (XYZ, WMTS and TMS),
// decodes it and finds Paris; the second read comes from the cache.
func testVectorTiles(ctx context.Context, t *testing.T, c *ogc.Client) {
	tile := maptile.New(32, 22, 6) // holds Paris (48.86°N; row 22 spans 45.1 to 49.0°N)
	urls := []string{
		ogc.XYZTileURL(base+"/xyz", "cities-mvt", "GoogleMapsCompatible", 6, 32, 22, "mvt"),
		base + "/wmts/1.0.0/cities-mvt/default/GoogleMapsCompatible/6/22/32.mvt",
		fmt.Sprintf("%s/tms/1.0.0/cities-mvt@GoogleMapsCompatible/6/32/%d.mvt", base, 1<<6-1-22),
	}
	before := mapserverMVTs(t)
	for i, u := range urls {
		ls, r, err := c.VectorTile(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		ls.ProjectToWGS84(tile)
		if !hasParis(ls) {
			t.Errorf("%s (%d bytes): no Paris in %v", u, len(r.Body), layerSummary(ls))
		}
		// Once MapCache stored the tile (the XYZ request), the gateway answers its WMTS
		// RESTful URL from the file: an ETag (MapCache sends none), the vector tile type and
		// the cache's max-age.
		if i == 1 && (r.Header.Get("Etag") == "" || r.Header.Get("Cache-Control") != "public, max-age=3600") {
			t.Errorf("%s: not answered from the cache's file: %v", u, r.Header)
		}
	}
	time.Sleep(2 * time.Second)
	after1 := mapserverMVTs(t)
	if after1 <= before {
		t.Errorf("no MVT GetMap reached MapServer (%d -> %d)", before, after1)
	}
	if _, _, err := c.VectorTile(ctx, urls[0]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if after2 := mapserverMVTs(t); after2 != after1 {
		t.Errorf("a cached vector tile reached MapServer again (%d -> %d MVT GetMap)", after1, after2)
	}
	// A tile far from France decodes too (empty of cities).
	ls, _, err := c.VectorTile(ctx, ogc.XYZTileURL(base+"/xyz", "cities-mvt", "GoogleMapsCompatible", 6, 5, 40, "mvt"))
	if err != nil {
		t.Fatal(err)
	}
	ls.ProjectToWGS84(maptile.New(5, 40, 6))
	if hasParis(ls) {
		t.Errorf("Paris in a tile over the Pacific")
	}
}

func hasParis(ls mvt.Layers) bool {
	for _, l := range ls {
		if l.Name != "cities" {
			continue
		}
		for _, f := range l.Features {
			p, ok := f.Geometry.(orb.Point)
			if ok && f.Properties["name"] == "Paris" && math.Abs(p.Lon()-2.3522) < 0.01 && math.Abs(p.Lat()-48.8566) < 0.01 {
				return true
			}
		}
	}
	return false
}

func layerSummary(ls mvt.Layers) string {
	var s []string
	for _, l := range ls {
		s = append(s, fmt.Sprintf("%s:%d features", l.Name, len(l.Features)))
	}
	return strings.Join(s, ", ")
}

// mapserverMVTs counts the vector tile GetMap requests in MapServer's access logs.
func mapserverMVTs(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("docker", "service", "logs", "--raw", Name+"_mapserver").CombinedOutput()
	if err != nil {
		t.Fatalf("docker service logs: %v: %s", err, out)
	}
	return strings.Count(strings.ToLower(string(out)), "vnd.mapbox-vector-tile")
}

// owslibScript reads the quickstart's OGC API – Features with OWSLib (a client nobody here
// wrote): the collections, then cities in the northern bbox.
const owslibScript = `
import json, sys
from owslib.ogcapi.features import Features
api = Features(sys.argv[1], timeout=30)
ids = sorted(c["id"] for c in api.collections()["collections"])
items = api.collection_items("cities", bbox=[0, 47, 5, 50], limit=10)
one = api.collection_item("cities", "1")
print(json.dumps({"ids": ids, "returned": len(items["features"]), "matched": items.get("numberMatched"),
                  "next": [l["href"] for l in items.get("links", []) if l.get("rel") == "next"],
                  "paris": one["properties"]["name"]}))
`

// testOWSLib runs OWSLib's ogcapi.features (Debian's python3-owslib, with Debian's python;
// scripts/test.sh installs it) against the gateway.
func testOWSLib(t *testing.T) {
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import owslib.ogcapi.features").CombinedOutput(); err != nil {
		t.Fatalf("OWSLib is missing (apt-get install python3-owslib; scripts/test.sh does): %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", owslibScript, base+"/ogcapi").CombinedOutput()
	if err != nil {
		t.Fatalf("OWSLib: %v: %s", err, out)
	}
	var got struct {
		IDs      []string `json:"ids"`
		Returned int      `json:"returned"`
		Matched  int      `json:"matched"`
		Next     []string `json:"next"`
		Paris    string   `json:"paris"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("OWSLib output %s: %v", out, err)
	}
	if strings.Join(got.IDs, ",") != "cities,roads,zones" || got.Returned != 10 || got.Matched <= 10 || got.Paris != "Paris" ||
		len(got.Next) != 1 || !strings.HasPrefix(got.Next[0], base+"/ogcapi/collections/cities/items?") || !strings.Contains(got.Next[0], "bbox=") {
		t.Errorf("OWSLib read %+v", got)
	}
	t.Logf("OWSLib: %+v", got)
}

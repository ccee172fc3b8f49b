package ogc

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/kalisio/kargo/stack"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
)

// fakeFeatures answers like MapServer 8's OGC API – Features: 25 cities, pages of limit with
// a next link until the last one.
func fakeFeatures(t *testing.T) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("f") != "json" {
			http.Error(w, "want f=json", 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		root := srv.URL + "/ogcapi"
		switch r.URL.Path {
		case "/ogcapi":
			fmt.Fprintf(w, `{"title":"t","links":[{"href":"%s/collections?f=json","rel":"data","type":"application/json"}]}`, root)
		case "/ogcapi/collections":
			fmt.Fprint(w, `{"collections":[{"id":"cities","itemType":"feature","extent":{"spatial":{"bbox":[[-5,41,10,52]]}}},{"id":"roads"}],"links":[]}`)
		case "/ogcapi/collections/cities/items":
			limit, _ := strconv.Atoi(q.Get("limit"))
			offset, _ := strconv.Atoi(q.Get("offset"))
			if q.Get("bbox") != "2,48,3,49.5" {
				http.Error(w, "bbox "+q.Get("bbox"), 400)
				return
			}
			var feats []string
			for i := offset; i < 25 && i < offset+limit; i++ {
				feats = append(feats, fmt.Sprintf(`{"type":"Feature","id":"%d","properties":{"id":%d},"geometry":null}`, i+1, i+1))
			}
			next := ""
			if offset+limit < 25 {
				next = fmt.Sprintf(`,{"href":"%s/collections/cities/items?f=json&limit=%d&bbox=2,48,3,49.5&offset=%d","rel":"next"}`, root, limit, offset+limit)
			}
			fmt.Fprintf(w, `{"type":"FeatureCollection","numberMatched":25,"numberReturned":%d,"features":[%s],"links":[{"href":"x","rel":"self"}%s]}`,
				len(feats), strings.Join(feats, ","), next)
		case "/ogcapi/collections/cities/items/7":
			fmt.Fprint(w, `{"type":"Feature","id":"7","properties":{"name":"Paris"},"geometry":{"type":"Point","coordinates":[2.35,48.85]}}`)
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"code":"NotFound"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFeaturesClient(t *testing.T) {
	srv := fakeFeatures(t)
	c := &Client{}
	ctx := context.Background()
	root := srv.URL + "/ogcapi"
	l, err := c.Landing(ctx, root)
	if err != nil || l.Links.Href("data", "application/json") != root+"/collections?f=json" {
		t.Fatalf("landing %+v, %v", l, err)
	}
	cs, err := c.Collections(ctx, root)
	if err != nil || strings.Join(cs.IDs(), ",") != "cities,roads" || cs.Collections[0].Extent.Spatial.BBox[0][3] != 52 {
		t.Fatalf("collections %+v, %v", cs, err)
	}
	page, err := c.Items(ctx, root, "cities", ItemsRequest{BBox: [4]float64{2, 48, 3, 49.5}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	n, pages := 0, 0
	for page != nil && pages < 10 {
		n += len(page.Features)
		pages++
		if page.NumberMatched != 25 {
			t.Errorf("numberMatched %d", page.NumberMatched)
		}
		if page.Next() == "" {
			break
		}
		if page, err = c.ItemsPage(ctx, page.Next()); err != nil {
			t.Fatal(err)
		}
	}
	if n != 25 || pages != 3 {
		t.Errorf("%d features in %d pages, want 25 in 3", n, pages)
	}
	f, err := c.Item(ctx, root, "cities", "7")
	if err != nil || f.Properties["name"] != "Paris" {
		t.Errorf("item %+v, %v", f, err)
	}
	if _, err := c.Item(ctx, root, "cities", "999"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing item: %v", err)
	}
	if err := c.CheckEndpoint(ctx, stack.OGCAPIFeatures, root, []string{"cities", "roads"}); err != nil {
		t.Error(err)
	}
	if err := c.CheckEndpoint(ctx, stack.OGCAPIFeatures, root, []string{"cities", "zones"}); err == nil || !strings.Contains(err.Error(), "lack zones") {
		t.Errorf("missing collection: %v", err)
	}
}

func TestVectorTileAndXYZCheck(t *testing.T) {
	tile := maptile.New(32, 22, 6) // over Paris
	fc := geojson.NewFeatureCollection()
	paris := geojson.NewFeature(orb.Point{2.3522, 48.8566})
	paris.Properties["name"] = "Paris"
	fc.Append(paris)
	ls := mvt.NewLayers(map[string]*geojson.FeatureCollection{"cities": fc})
	ls.ProjectToTile(tile)
	data, err := mvt.Marshal(ls)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/xyz/cities-mvt@GoogleMapsCompatible/0/0/0.mvt", "/xyz/cities-mvt@GoogleMapsCompatible/6/32/22.mvt":
			w.Header().Set("Content-Type", MVT)
			w.Write(data)
		default:
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("not a tile"))
		}
	}))
	defer srv.Close()
	c := &Client{}
	ctx := context.Background()
	got, _, err := c.VectorTile(ctx, XYZTileURL(srv.URL+"/xyz", "cities-mvt", "GoogleMapsCompatible", 6, 32, 22, "mvt"))
	if err != nil {
		t.Fatal(err)
	}
	got.ProjectToWGS84(tile)
	if len(got) != 1 || got[0].Name != "cities" || len(got[0].Features) != 1 || got[0].Features[0].Properties["name"] != "Paris" {
		t.Fatalf("decoded %+v", got)
	}
	if p := got[0].Features[0].Geometry.(orb.Point); p.Lon() < 2.34 || p.Lon() > 2.36 {
		t.Errorf("Paris at %v", p)
	}
	if err := c.CheckEndpoint(ctx, stack.XYZ, srv.URL+"/xyz", []string{"cities-mvt@GoogleMapsCompatible.mvt"}); err != nil {
		t.Error(err)
	}
	if err := c.CheckEndpoint(ctx, stack.XYZ, srv.URL+"/xyz", []string{"roads-mvt@GoogleMapsCompatible.mvt"}); err == nil || !strings.Contains(err.Error(), "not a vector tile") {
		t.Errorf("a text answer passed as a tile: %v", err)
	}
	if err := c.CheckEndpoint(ctx, stack.XYZ, srv.URL+"/xyz", []string{"roads"}); err == nil {
		t.Error("a layer without grid and extension passed")
	}
}

package ogc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The samples are real answers of the quickstart's MapServer 8.0 and MapCache 1.14.

func TestParseWMS(t *testing.T) {
	c, err := Parse(WMS, read(t, "mapserver-wms-1.3.0.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != "1.3.0" || c.Title != "Kargo quickstart" {
		t.Errorf("version %q title %q", c.Version, c.Title)
	}
	if got := strings.Join(c.LayerNames(), ","); got != "quickstart,elevation,zones,roads,cities" {
		t.Errorf("layers = %s", got)
	}
	l := c.Layer("cities")
	if l == nil || l.Title != "Cities" {
		t.Fatalf("cities = %+v", l)
	}
	if !contains(l.CRS, "EPSG:4326") || !contains(l.CRS, "EPSG:3857") {
		t.Errorf("cities CRS (inherited) = %v", l.CRS)
	}
	if l.BBox == nil || l.BBox.MinX > 2.35 || l.BBox.MaxX < 2.35 || l.BBox.MinY > 48.85 || l.BBox.MaxY < 48.86 {
		t.Errorf("cities bbox = %+v, want it to hold Paris", l.BBox)
	}
	if !contains(c.Formats, "image/png") {
		t.Errorf("formats = %v", c.Formats)
	}
}

func TestParseWFS(t *testing.T) {
	c, err := Parse(WFS, read(t, "mapserver-wfs-2.0.0.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != "2.0.0" {
		t.Errorf("version %q", c.Version)
	}
	if got := strings.Join(c.LayerNames(), ","); got != "zones,roads,cities" {
		t.Errorf("feature types = %s", got)
	}
	z := c.Layer("zones")
	if z.CRS[0] != "urn:ogc:def:crs:EPSG::4326" || !contains(z.Formats, "application/json; subtype=geojson") {
		t.Errorf("zones = %+v", z)
	}
	if z.BBox == nil || z.BBox.MinX != -4.5 {
		t.Errorf("zones bbox = %+v", z.BBox)
	}
	if !contains(c.Formats, "application/gml+xml; version=3.2") {
		t.Errorf("GetFeature formats = %v", c.Formats)
	}
}

func TestParseWCS(t *testing.T) {
	c, err := Parse(WCS, read(t, "mapserver-wcs-2.0.1.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != "2.0.1" || strings.Join(c.LayerNames(), ",") != "elevation" {
		t.Errorf("version %q coverages %v", c.Version, c.LayerNames())
	}
	if !contains(c.Formats, "image/tiff") {
		t.Errorf("formats = %v", c.Formats)
	}
}

func TestParseWMTS(t *testing.T) {
	c, err := Parse(WMTS, read(t, "mapcache-wmts-1.0.0.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.LayerNames(), ","); got != "cities,roads" {
		t.Errorf("layers = %s", got)
	}
	l := c.Layer("roads")
	if !contains(l.TileMatrixSets, "GoogleMapsCompatible") || !contains(l.Formats, "image/png") || l.CRS[0] != "urn:ogc:def:crs:EPSG:6.3:3857" {
		t.Errorf("roads = %+v", l)
	}
	s := c.TileMatrixSet("GoogleMapsCompatible")
	if s == nil || len(s.Matrices) != 22 || s.Matrices[5].MatrixWidth != 32 || s.Matrices[0].TileWidth != 256 {
		t.Fatalf("tile matrix set = %+v", s)
	}
}

func TestParseErrors(t *testing.T) {
	_, err := Parse(WFS, read(t, "mapserver-exception.xml"))
	var ee *ExceptionError
	if err == nil || !asException(err, &ee) || ee.Code != "InvalidParameterValue" || ee.Locator != "typename" {
		t.Errorf("exception report: %v", err)
	}
	if _, err := Parse(WMS, read(t, "mapserver-wfs-2.0.0.xml")); err == nil || !strings.Contains(err.Error(), "not a WMS_Capabilities") {
		t.Errorf("wrong document: %v", err)
	}
	if _, err := Parse(WMTS, []byte("<not xml")); err == nil {
		t.Error("broken XML parsed")
	}
}

func asException(err error, target **ExceptionError) bool {
	e, ok := err.(*ExceptionError)
	*target = e
	return ok
}

func TestCapabilitiesURL(t *testing.T) {
	if got := CapabilitiesURL(WMS, "http://h/wms"); got != "http://h/wms?REQUEST=GetCapabilities&SERVICE=WMS&VERSION=1.3.0" {
		t.Errorf("got %s", got)
	}
	if got := CapabilitiesURL(WMTS, "http://h/wmts/1.0.0/WMTSCapabilities.xml"); got != "http://h/wmts/1.0.0/WMTSCapabilities.xml" {
		t.Errorf("got %s", got)
	}
	if got := CapabilitiesURL(WMS, "http://h/?map=/etc/mapserver/x.map"); !strings.Contains(got, "map=%2Fetc%2Fmapserver%2Fx.map") || !strings.Contains(got, "SERVICE=WMS") {
		t.Errorf("got %s", got)
	}
}

func TestClientAgainstServer(t *testing.T) {
	wms := read(t, "mapserver-wms-1.3.0.xml")
	exc := read(t, "mapserver-exception.xml")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("REQUEST") == "GetCapabilities":
			w.Header().Set("Content-Type", "text/xml")
			w.Write(wms)
		case q.Get("RESULTTYPE") == "hits":
			w.Header().Set("Content-Type", "text/xml")
			w.Write([]byte(`<wfs:FeatureCollection numberMatched="300" numberReturned="0"/>`))
		default:
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(400)
			w.Write(exc)
		}
	}))
	defer srv.Close()
	c := &Client{}
	ctx := context.Background()
	if err := c.Check(ctx, WMS, srv.URL+"/wms", []string{"cities", "roads"}); err != nil {
		t.Error(err)
	}
	if err := c.Check(ctx, WMS, srv.URL+"/wms", []string{"cities", "rivers"}); err == nil || !strings.Contains(err.Error(), "lack rivers") {
		t.Errorf("missing layer: %v", err)
	}
	if n, err := c.GetFeatureHits(ctx, srv.URL+"/wfs", "cities"); err != nil || n != 300 {
		t.Errorf("hits = %d, %v", n, err)
	}
	if _, err := c.GetFeatures(ctx, srv.URL+"/wfs", "nope", "geojson", 0); err == nil || !strings.Contains(err.Error(), "InvalidParameterValue") {
		t.Errorf("exception: %v", err)
	}
}

func TestTIFFSize(t *testing.T) {
	// A minimal little-endian TIFF header with one IFD: width 100 (SHORT), height 80 (LONG),
	// and a GeoKeyDirectory tag.
	b := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 3, 0,
		0, 1, 3, 0, 1, 0, 0, 0, 100, 0, 0, 0,
		1, 1, 4, 0, 1, 0, 0, 0, 80, 0, 0, 0,
		0xaf, 0x87, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0,
		0, 0, 0, 0}
	w, h, err := TIFFSize(b)
	if err != nil || w != 100 || h != 80 || !IsGeoTIFF(b) {
		t.Errorf("TIFFSize = %d, %d, %v; geotiff %v", w, h, err, IsGeoTIFF(b))
	}
	if _, _, err := TIFFSize([]byte("\x89PNG....")); err == nil {
		t.Error("PNG taken for a TIFF")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package ogc

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Client sends OGC requests. The zero value uses http.DefaultClient.
type Client struct {
	// HTTP sends the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// MaxBody bounds the answers read (default 64 MiB).
	MaxBody int64
}

// Response is a raw answer.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// ContentType is the Content-Type header.
	ContentType string
	// Header holds every response header.
	Header http.Header
	// Body is the answer, at most Client.MaxBody bytes.
	Body []byte
}

func (c *Client) httpClient() *http.Client {
	if c != nil && c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Get fetches a URL and returns the answer; a non-2xx status or an OGC exception report is
// an error (with the response still returned).
func (c *Client) Get(ctx context.Context, u string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	max := int64(64 << 20)
	if c != nil && c.MaxBody > 0 {
		max = c.MaxBody
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	r := &Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Header: resp.Header, Body: b}
	if strings.Contains(r.ContentType, "xml") {
		if e := exception(b); e != nil {
			return r, fmt.Errorf("GET %s: %w", u, e)
		}
	}
	if resp.StatusCode/100 != 2 {
		return r, fmt.Errorf("GET %s: status %d: %.200s", u, resp.StatusCode, b)
	}
	return r, nil
}

// KVP returns base with the given key-value parameters added to its query.
func KVP(base string, params map[string]string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// CapabilitiesURL is the GetCapabilities URL of a service endpoint. A URL that already
// names a document (ends in .xml or has a REQUEST parameter) is returned as is.
func CapabilitiesURL(s Service, base string) string {
	if strings.HasSuffix(strings.SplitN(base, "?", 2)[0], ".xml") || strings.Contains(strings.ToLower(base), "request=") {
		return base
	}
	return KVP(base, map[string]string{"SERVICE": string(s), "VERSION": s.Version(), "REQUEST": "GetCapabilities"})
}

// GetCapabilities fetches and parses the capabilities of a service endpoint, e.g.
// GetCapabilities(ctx, ogc.WMS, "http://127.0.0.1:8080/wms").
func (c *Client) GetCapabilities(ctx context.Context, s Service, base string) (*Capabilities, error) {
	r, err := c.Get(ctx, CapabilitiesURL(s, base))
	if err != nil {
		return nil, err
	}
	return Parse(s, r.Body)
}

// MapRequest is a WMS 1.3.0 GetMap request. BBox is in CRS axis order (EPSG:4326 is
// latitude first: minLat, minLon, maxLat, maxLon).
type MapRequest struct {
	// Layers to draw, bottom first.
	Layers []string
	// Styles, one per layer; empty means the default style of each.
	Styles []string
	// CRS of BBox and of the map; default EPSG:4326.
	CRS string
	// BBox is the extent, in CRS axis order.
	BBox [4]float64
	// Width of the map, in pixels.
	Width int
	// Height of the map, in pixels.
	Height int
	// Format is the image MIME type; default image/png.
	Format string
	// Transparent asks for a transparent background.
	Transparent bool
}

// GetMapURL is the GetMap URL of a request.
func GetMapURL(base string, m MapRequest) string {
	format := m.Format
	if format == "" {
		format = "image/png"
	}
	crs := m.CRS
	if crs == "" {
		crs = "EPSG:4326"
	}
	styles := strings.Join(m.Styles, ",")
	if len(m.Styles) == 0 && len(m.Layers) > 1 {
		styles = strings.Repeat(",", len(m.Layers)-1)
	}
	return KVP(base, map[string]string{
		"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap",
		"LAYERS": strings.Join(m.Layers, ","), "STYLES": styles, "CRS": crs,
		"BBOX":  fmt.Sprintf("%g,%g,%g,%g", m.BBox[0], m.BBox[1], m.BBox[2], m.BBox[3]),
		"WIDTH": strconv.Itoa(m.Width), "HEIGHT": strconv.Itoa(m.Height),
		"FORMAT": format, "TRANSPARENT": strings.ToUpper(strconv.FormatBool(m.Transparent)),
	})
}

// GetMap requests a map and decodes it (PNG, or any format registered with package image).
func (c *Client) GetMap(ctx context.Context, base string, m MapRequest) (image.Image, *Response, error) {
	r, err := c.Get(ctx, GetMapURL(base, m))
	if err != nil {
		return nil, r, err
	}
	img, err := decodeImage(r)
	return img, r, err
}

func decodeImage(r *Response) (image.Image, error) {
	if !strings.HasPrefix(r.ContentType, "image/") {
		return nil, fmt.Errorf("ogc: expected an image, got %s: %.200s", r.ContentType, r.Body)
	}
	if strings.HasPrefix(r.ContentType, "image/png") {
		return png.Decode(bytes.NewReader(r.Body))
	}
	img, _, err := image.Decode(bytes.NewReader(r.Body))
	return img, err
}

var numberMatchedRE = regexp.MustCompile(`numberMatched="([0-9]+)"`)

// GetFeatureHits asks a WFS 2.0 endpoint how many features of a type there are
// (RESULTTYPE=hits) and returns numberMatched.
func (c *Client) GetFeatureHits(ctx context.Context, base, typeName string) (int, error) {
	r, err := c.Get(ctx, KVP(base, map[string]string{"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
		"TYPENAMES": typeName, "RESULTTYPE": "hits"}))
	if err != nil {
		return 0, err
	}
	m := numberMatchedRE.FindSubmatch(r.Body)
	if m == nil {
		return 0, fmt.Errorf("ogc: no numberMatched in the hits answer: %.200s", r.Body)
	}
	return strconv.Atoi(string(m[1]))
}

// FeatureCollection is a GeoJSON feature collection.
type FeatureCollection struct {
	// Type is "FeatureCollection".
	Type string `json:"type"`
	// Features of the collection.
	Features []Feature `json:"features"`
}

// Feature is a GeoJSON feature.
type Feature struct {
	// Type is "Feature".
	Type string `json:"type"`
	// ID of the feature, a string or a number; nil when absent.
	ID any `json:"id,omitempty"`
	// Properties are the feature's attributes.
	Properties map[string]any `json:"properties"`
	// Geometry is the GeoJSON geometry, undecoded.
	Geometry json.RawMessage `json:"geometry"`
}

// GetFeatures fetches features of a type as GeoJSON (outputFormat is the server's name for
// GeoJSON, e.g. "geojson" on MapServer, "application/json" on GeoServer). count 0 means all.
func (c *Client) GetFeatures(ctx context.Context, base, typeName, outputFormat string, count int) (*FeatureCollection, error) {
	p := map[string]string{"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
		"TYPENAMES": typeName, "OUTPUTFORMAT": outputFormat}
	if count > 0 {
		p["COUNT"] = strconv.Itoa(count)
	}
	r, err := c.Get(ctx, KVP(base, p))
	if err != nil {
		return nil, err
	}
	var fc FeatureCollection
	if err := json.Unmarshal(r.Body, &fc); err != nil {
		return nil, fmt.Errorf("ogc: GeoJSON: %w: %.200s", err, r.Body)
	}
	if fc.Type != "FeatureCollection" {
		return nil, fmt.Errorf("ogc: not a FeatureCollection: %q", fc.Type)
	}
	return &fc, nil
}

// CoverageRequest is a WCS 2.0.1 GetCoverage request.
type CoverageRequest struct {
	// CoverageID names the coverage.
	CoverageID string
	// Format, default image/tiff.
	Format string
	// Subsets are trims such as "long(0,5)" or "lat(44,48)".
	Subsets []string
	// ScaleSize is the output size per axis, e.g. "long(100),lat(80)" (empty: native).
	ScaleSize string
}

// GetCoverage requests a coverage and returns its bytes.
func (c *Client) GetCoverage(ctx context.Context, base string, cr CoverageRequest) (*Response, error) {
	format := cr.Format
	if format == "" {
		format = "image/tiff"
	}
	u := KVP(base, map[string]string{"SERVICE": "WCS", "VERSION": "2.0.1", "REQUEST": "GetCoverage",
		"COVERAGEID": cr.CoverageID, "FORMAT": format})
	if cr.ScaleSize != "" {
		u += "&SCALESIZE=" + url.QueryEscape(cr.ScaleSize)
	}
	for _, s := range cr.Subsets {
		u += "&SUBSET=" + url.QueryEscape(s)
	}
	return c.Get(ctx, u)
}

// GetTileURL is a WMTS 1.0.0 KVP GetTile URL.
func GetTileURL(base, layer, matrixSet, matrix string, row, col int, format string) string {
	if format == "" {
		format = "image/png"
	}
	return KVP(base, map[string]string{"SERVICE": "WMTS", "VERSION": "1.0.0", "REQUEST": "GetTile",
		"LAYER": layer, "STYLE": "default", "TILEMATRIXSET": matrixSet, "TILEMATRIX": matrix,
		"TILEROW": strconv.Itoa(row), "TILECOL": strconv.Itoa(col), "FORMAT": format})
}

// GetTile fetches a WMTS tile and decodes it.
func (c *Client) GetTile(ctx context.Context, u string) (image.Image, *Response, error) {
	r, err := c.Get(ctx, u)
	if err != nil {
		return nil, r, err
	}
	img, err := decodeImage(r)
	return img, r, err
}

// TIFFSize returns the width and height of the first image of a TIFF file (GeoTIFF included).
func TIFFSize(b []byte) (width, height int, err error) {
	if len(b) < 8 {
		return 0, 0, errors.New("ogc: not a TIFF: too short")
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0, 0, errors.New("ogc: not a TIFF: bad byte order mark")
	}
	if bo.Uint16(b[2:4]) != 42 {
		return 0, 0, errors.New("ogc: not a classic TIFF (magic 42)")
	}
	off := int(bo.Uint32(b[4:8]))
	if off+2 > len(b) {
		return 0, 0, errors.New("ogc: TIFF: IFD out of range")
	}
	n := int(bo.Uint16(b[off : off+2]))
	for i := 0; i < n; i++ {
		e := off + 2 + 12*i
		if e+12 > len(b) {
			break
		}
		tag, typ := bo.Uint16(b[e:e+2]), bo.Uint16(b[e+2:e+4])
		var v int
		if typ == 3 { // SHORT
			v = int(bo.Uint16(b[e+8 : e+10]))
		} else {
			v = int(bo.Uint32(b[e+8 : e+12]))
		}
		switch tag {
		case 256:
			width = v
		case 257:
			height = v
		}
	}
	if width == 0 || height == 0 {
		return 0, 0, errors.New("ogc: TIFF without ImageWidth/ImageLength")
	}
	return width, height, nil
}

// IsGeoTIFF reports whether a TIFF carries GeoTIFF keys (tag 34735).
func IsGeoTIFF(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if string(b[:2]) == "MM" {
		bo = binary.BigEndian
	}
	off := int(bo.Uint32(b[4:8]))
	if off+2 > len(b) {
		return false
	}
	n := int(bo.Uint16(b[off : off+2]))
	for i := 0; i < n; i++ {
		e := off + 2 + 12*i
		if e+12 > len(b) {
			return false
		}
		if bo.Uint16(b[e:e+2]) == 34735 {
			return true
		}
	}
	return false
}

// Check fetches the capabilities of an endpoint and fails unless they list every layer of want.
func (c *Client) Check(ctx context.Context, s Service, base string, want []string) error {
	caps, err := c.GetCapabilities(ctx, s, base)
	if err != nil {
		return err
	}
	if m := caps.Missing(want); len(m) > 0 {
		return fmt.Errorf("%s %s: capabilities lack %s (have %s)", s, base, strings.Join(m, ", "), strings.Join(caps.LayerNames(), ", "))
	}
	return nil
}

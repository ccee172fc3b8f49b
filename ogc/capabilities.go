// Package ogc is a small client of OGC web services: GetCapabilities of WMS 1.3.0,
// WFS 2.0.0, WCS 2.0.1 and WMTS 1.0.0 parsed into one Capabilities shape, and the requests
// Kargo's readiness probes, status and tests need (GetMap, GetFeature, GetCoverage, GetTile).
package ogc

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// Service is an OGC service type.
type Service string

// Services and the versions this client speaks.
const (
	WMS  Service = "WMS"
	WFS  Service = "WFS"
	WCS  Service = "WCS"
	WMTS Service = "WMTS"
)

// Version returns the protocol version the client uses for s.
func (s Service) Version() string {
	switch s {
	case WMS:
		return "1.3.0"
	case WFS:
		return "2.0.0"
	case WCS:
		return "2.0.1"
	case WMTS:
		return "1.0.0"
	}
	return ""
}

// Capabilities is what a GetCapabilities document says, in one shape for every service.
type Capabilities struct {
	// Service is the service type the document describes.
	Service Service
	// Version is the protocol version of the document.
	Version string
	// Title of the service.
	Title string
	// Formats are the output formats of the main operation (GetMap, GetFeature, GetCoverage,
	// GetTile), when the document lists them at service level.
	Formats []string
	// Layers are the WMS named layers, WFS feature types, WCS coverages or WMTS layers.
	Layers []Layer
	// TileMatrixSets are the WMTS tile matrix sets.
	TileMatrixSets []TileMatrixSet
}

// Layer is a layer, feature type, coverage or tile layer.
type Layer struct {
	// Name of the layer, feature type, coverage or tile layer, as requests use it.
	Name string
	// Title is its human-readable title.
	Title string
	// CRS are the coordinate systems it is offered in (WMS CRS, WFS default/other CRS,
	// WCS native CRS, WMTS tile matrix set CRS).
	CRS []string
	// BBox is the extent in WGS 84 longitude/latitude, when given.
	BBox *BBox
	// Formats are the layer's own formats (WMTS tile formats, WFS output formats).
	Formats []string
	// TileMatrixSets linked to a WMTS layer.
	TileMatrixSets []string
}

// BBox is an extent; for Layer.BBox, in longitude/latitude order.
type BBox struct {
	// MinX, MinY, MaxX and MaxY are the corners, in CRS units and axis order.
	MinX, MinY, MaxX, MaxY float64
	// CRS of the coordinates; "CRS:84" (longitude/latitude) for Layer.BBox.
	CRS string
}

// TileMatrixSet is a WMTS tile matrix set.
type TileMatrixSet struct {
	// Identifier of the set, as GetTile requests use it.
	Identifier string
	// CRS of the tiles.
	CRS string
	// Matrices are the zoom levels, in document order.
	Matrices []TileMatrix
}

// TileMatrix is one zoom level of a tile matrix set.
type TileMatrix struct {
	// Identifier of the level, as GetTile requests use it (TILEMATRIX).
	Identifier string
	// ScaleDenominator is the level's scale.
	ScaleDenominator float64
	// TileWidth is the width of a tile, in pixels.
	TileWidth int
	// TileHeight is the height of a tile, in pixels.
	TileHeight int
	// MatrixWidth is the number of tile columns.
	MatrixWidth int
	// MatrixHeight is the number of tile rows.
	MatrixHeight int
}

// Layer returns the layer with the given name, or nil.
func (c *Capabilities) Layer(name string) *Layer {
	for i := range c.Layers {
		if c.Layers[i].Name == name {
			return &c.Layers[i]
		}
	}
	return nil
}

// LayerNames returns the names of the layers, in document order.
func (c *Capabilities) LayerNames() []string {
	out := make([]string, 0, len(c.Layers))
	for _, l := range c.Layers {
		out = append(out, l.Name)
	}
	return out
}

// Missing returns the names of want that the capabilities do not list.
func (c *Capabilities) Missing(want []string) []string {
	var out []string
	for _, w := range want {
		if c.Layer(w) == nil {
			out = append(out, w)
		}
	}
	return out
}

// TileMatrixSet returns the tile matrix set with the given identifier, or nil.
func (c *Capabilities) TileMatrixSet(id string) *TileMatrixSet {
	for i := range c.TileMatrixSets {
		if c.TileMatrixSets[i].Identifier == id {
			return &c.TileMatrixSets[i]
		}
	}
	return nil
}

// ExceptionError is an OGC exception report returned instead of the expected answer.
type ExceptionError struct {
	// Code is the exception code, e.g. "LayerNotDefined".
	Code string
	// Locator names what the exception is about (often a parameter), when given.
	Locator string
	// Text is the exception message.
	Text string
}

// Error returns "ogc exception <code> (<locator>): <text>", without the parts not given.
func (e *ExceptionError) Error() string {
	s := "ogc exception"
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Locator != "" {
		s += " (" + e.Locator + ")"
	}
	return s + ": " + strings.TrimSpace(e.Text)
}

// exception recognises OWS ExceptionReport and WMS ServiceExceptionReport documents.
func exception(b []byte) error {
	var root struct {
		XMLName xml.Name
		OWS     []struct {
			Code    string   `xml:"exceptionCode,attr"`
			Locator string   `xml:"locator,attr"`
			Text    []string `xml:"ExceptionText"`
		} `xml:"Exception"`
		WMS []struct {
			Code string `xml:"code,attr"`
			Text string `xml:",chardata"`
		} `xml:"ServiceException"`
	}
	if err := xml.Unmarshal(b, &root); err != nil {
		return nil
	}
	switch root.XMLName.Local {
	case "ExceptionReport":
		if len(root.OWS) > 0 {
			e := root.OWS[0]
			return &ExceptionError{Code: e.Code, Locator: e.Locator, Text: strings.Join(e.Text, " ")}
		}
		return &ExceptionError{Text: "empty exception report"}
	case "ServiceExceptionReport":
		if len(root.WMS) > 0 {
			return &ExceptionError{Code: root.WMS[0].Code, Text: root.WMS[0].Text}
		}
		return &ExceptionError{Text: "empty exception report"}
	}
	return nil
}

// Parse parses a GetCapabilities document of the given service.
func Parse(s Service, b []byte) (*Capabilities, error) {
	if err := exception(b); err != nil {
		return nil, err
	}
	switch s {
	case WMS:
		return ParseWMS(b)
	case WFS:
		return ParseWFS(b)
	case WCS:
		return ParseWCS(b)
	case WMTS:
		return ParseWMTS(b)
	}
	return nil, fmt.Errorf("ogc: unknown service %q", s)
}

func checkRoot(name xml.Name, want string) error {
	if name.Local != want {
		return fmt.Errorf("ogc: not a %s document (root element %s)", want, name.Local)
	}
	return nil
}

// wmsLayer is a WMS 1.3.0 Layer element (layers nest; named ones are requestable).
type wmsLayer struct {
	Name  string   `xml:"Name"`
	Title string   `xml:"Title"`
	CRS   []string `xml:"CRS"`
	Geo   *struct {
		West  float64 `xml:"westBoundLongitude"`
		East  float64 `xml:"eastBoundLongitude"`
		South float64 `xml:"southBoundLatitude"`
		North float64 `xml:"northBoundLatitude"`
	} `xml:"EX_GeographicBoundingBox"`
	Layers []wmsLayer `xml:"Layer"`
}

// ParseWMS parses a WMS 1.3.0 WMS_Capabilities document. Nested layers inherit their
// parents' CRS and bounding box, as the standard says.
func ParseWMS(b []byte) (*Capabilities, error) {
	var doc struct {
		XMLName xml.Name
		Version string     `xml:"version,attr"`
		Title   string     `xml:"Service>Title"`
		Formats []string   `xml:"Capability>Request>GetMap>Format"`
		Layers  []wmsLayer `xml:"Capability>Layer"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("ogc: WMS capabilities: %w", err)
	}
	if err := checkRoot(doc.XMLName, "WMS_Capabilities"); err != nil {
		return nil, err
	}
	c := &Capabilities{Service: WMS, Version: doc.Version, Title: strings.TrimSpace(doc.Title), Formats: trimAll(doc.Formats)}
	var walk func(ls []wmsLayer, crs []string, bbox *BBox)
	walk = func(ls []wmsLayer, crs []string, bbox *BBox) {
		for _, l := range ls {
			lc := appendNew(append([]string(nil), crs...), trimAll(l.CRS)...)
			lb := bbox
			if l.Geo != nil {
				lb = &BBox{MinX: l.Geo.West, MinY: l.Geo.South, MaxX: l.Geo.East, MaxY: l.Geo.North, CRS: "CRS:84"}
			}
			if name := strings.TrimSpace(l.Name); name != "" {
				c.Layers = append(c.Layers, Layer{Name: name, Title: strings.TrimSpace(l.Title), CRS: lc, BBox: lb})
			}
			walk(l.Layers, lc, lb)
		}
	}
	walk(doc.Layers, nil, nil)
	return c, nil
}

type owsWGS84 struct {
	Lower string `xml:"LowerCorner"`
	Upper string `xml:"UpperCorner"`
}

func (w *owsWGS84) bbox() *BBox {
	if w == nil {
		return nil
	}
	lo, hi := floats(w.Lower), floats(w.Upper)
	if len(lo) != 2 || len(hi) != 2 {
		return nil
	}
	return &BBox{MinX: lo[0], MinY: lo[1], MaxX: hi[0], MaxY: hi[1], CRS: "CRS:84"}
}

type owsOperation struct {
	Name       string `xml:"name,attr"`
	Parameters []struct {
		Name   string   `xml:"name,attr"`
		Values []string `xml:"AllowedValues>Value"`
		Value  []string `xml:"Value"`
	} `xml:"Parameter"`
}

func operationValues(ops []owsOperation, op, param string) []string {
	for _, o := range ops {
		if o.Name != op {
			continue
		}
		for _, p := range o.Parameters {
			if strings.EqualFold(p.Name, param) {
				return trimAll(append(p.Values, p.Value...))
			}
		}
	}
	return nil
}

// ParseWFS parses a WFS 2.0 WFS_Capabilities document.
func ParseWFS(b []byte) (*Capabilities, error) {
	var doc struct {
		XMLName    xml.Name
		Version    string         `xml:"version,attr"`
		Title      string         `xml:"ServiceIdentification>Title"`
		Operations []owsOperation `xml:"OperationsMetadata>Operation"`
		Types      []struct {
			Name    string    `xml:"Name"`
			Title   string    `xml:"Title"`
			Default string    `xml:"DefaultCRS"`
			Other   []string  `xml:"OtherCRS"`
			Formats []string  `xml:"OutputFormats>Format"`
			WGS84   *owsWGS84 `xml:"WGS84BoundingBox"`
		} `xml:"FeatureTypeList>FeatureType"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("ogc: WFS capabilities: %w", err)
	}
	if err := checkRoot(doc.XMLName, "WFS_Capabilities"); err != nil {
		return nil, err
	}
	c := &Capabilities{Service: WFS, Version: doc.Version, Title: strings.TrimSpace(doc.Title),
		Formats: operationValues(doc.Operations, "GetFeature", "outputFormat")}
	for _, t := range doc.Types {
		name := strings.TrimSpace(t.Name)
		// Feature type names may carry a prefix (ms:cities); keep the local name, which is
		// what TYPENAMES accepts.
		if i := strings.LastIndex(name, ":"); i >= 0 {
			name = name[i+1:]
		}
		crs := appendNew(nil, trimAll(append([]string{t.Default}, t.Other...))...)
		c.Layers = append(c.Layers, Layer{Name: name, Title: strings.TrimSpace(t.Title), CRS: crs, BBox: t.WGS84.bbox(), Formats: trimAll(t.Formats)})
	}
	return c, nil
}

// ParseWCS parses a WCS 2.0 Capabilities document. The native CRS of a coverage is only
// in DescribeCoverage; the capabilities give its subtype and WGS 84 extent when the server
// adds them (MapServer does).
func ParseWCS(b []byte) (*Capabilities, error) {
	var doc struct {
		XMLName   xml.Name
		Version   string   `xml:"version,attr"`
		Title     string   `xml:"ServiceIdentification>Title"`
		Formats   []string `xml:"ServiceMetadata>formatSupported"`
		Coverages []struct {
			ID    string    `xml:"CoverageId"`
			Title string    `xml:"Title"`
			WGS84 *owsWGS84 `xml:"WGS84BoundingBox"`
			BBox  *struct {
				CRS   string `xml:"crs,attr"`
				Lower string `xml:"LowerCorner"`
				Upper string `xml:"UpperCorner"`
			} `xml:"BoundingBox"`
		} `xml:"Contents>CoverageSummary"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("ogc: WCS capabilities: %w", err)
	}
	if err := checkRoot(doc.XMLName, "Capabilities"); err != nil {
		return nil, err
	}
	c := &Capabilities{Service: WCS, Version: doc.Version, Title: strings.TrimSpace(doc.Title), Formats: trimAll(doc.Formats)}
	for _, cv := range doc.Coverages {
		l := Layer{Name: strings.TrimSpace(cv.ID), Title: strings.TrimSpace(cv.Title), BBox: cv.WGS84.bbox()}
		if cv.BBox != nil && cv.BBox.CRS != "" {
			l.CRS = []string{cv.BBox.CRS}
		}
		c.Layers = append(c.Layers, l)
	}
	return c, nil
}

// ParseWMTS parses a WMTS 1.0.0 Capabilities document.
func ParseWMTS(b []byte) (*Capabilities, error) {
	var doc struct {
		XMLName xml.Name
		Version string `xml:"version,attr"`
		Title   string `xml:"ServiceIdentification>Title"`
		Layers  []struct {
			ID      string    `xml:"Identifier"`
			Title   string    `xml:"Title"`
			WGS84   *owsWGS84 `xml:"WGS84BoundingBox"`
			Formats []string  `xml:"Format"`
			Links   []string  `xml:"TileMatrixSetLink>TileMatrixSet"`
		} `xml:"Contents>Layer"`
		Sets []struct {
			ID       string `xml:"Identifier"`
			CRS      string `xml:"SupportedCRS"`
			Matrices []struct {
				ID    string  `xml:"Identifier"`
				Scale float64 `xml:"ScaleDenominator"`
				TW    int     `xml:"TileWidth"`
				TH    int     `xml:"TileHeight"`
				MW    int     `xml:"MatrixWidth"`
				MH    int     `xml:"MatrixHeight"`
			} `xml:"TileMatrix"`
		} `xml:"Contents>TileMatrixSet"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("ogc: WMTS capabilities: %w", err)
	}
	if err := checkRoot(doc.XMLName, "Capabilities"); err != nil {
		return nil, err
	}
	c := &Capabilities{Service: WMTS, Version: doc.Version, Title: strings.TrimSpace(doc.Title)}
	crsOf := map[string]string{}
	for _, s := range doc.Sets {
		t := TileMatrixSet{Identifier: strings.TrimSpace(s.ID), CRS: strings.TrimSpace(s.CRS)}
		for _, m := range s.Matrices {
			t.Matrices = append(t.Matrices, TileMatrix{Identifier: strings.TrimSpace(m.ID), ScaleDenominator: m.Scale,
				TileWidth: m.TW, TileHeight: m.TH, MatrixWidth: m.MW, MatrixHeight: m.MH})
		}
		crsOf[t.Identifier] = t.CRS
		c.TileMatrixSets = append(c.TileMatrixSets, t)
	}
	for _, l := range doc.Layers {
		links := trimAll(l.Links)
		var crs []string
		for _, s := range links {
			if v := crsOf[s]; v != "" {
				crs = appendNew(crs, v)
			}
		}
		c.Layers = append(c.Layers, Layer{Name: strings.TrimSpace(l.ID), Title: strings.TrimSpace(l.Title), CRS: crs,
			BBox: l.WGS84.bbox(), Formats: trimAll(l.Formats), TileMatrixSets: links})
		c.Formats = appendNew(c.Formats, trimAll(l.Formats)...)
	}
	return c, nil
}

func floats(s string) []float64 {
	var out []float64
	for _, f := range strings.Fields(s) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

func trimAll(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		found := false
		for _, x := range list {
			if x == it {
				found = true
				break
			}
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}

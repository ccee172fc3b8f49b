package mapserver

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Map is a mapfile described as Go values. Render writes it in MapServer's mapfile syntax;
// the builder ships it as a config at /etc/mapserver/<Name>.map.
type Map struct {
	// Name of the map and of its mapfile; default "mapserver".
	Name string
	// Title and Abstract of the OGC services.
	Title    string
	Abstract string
	// Extent of the map in Projection; default the whole world in EPSG:4326.
	Extent Extent
	// Projection of the map, e.g. "EPSG:4326" (default).
	Projection string
	// SRS are the coordinate systems the services advertise; default EPSG:4326, EPSG:3857
	// and EPSG:900913 (what tile caches ask for), plus Projection.
	SRS []string
	// Layers in drawing order (the first is drawn first, below the others).
	Layers []Layer
	// OGCAPI serves the map's vector layers as OGC API – Features collections (see
	// Config.OGCAPI, which sets it on every map).
	OGCAPI bool
}

// Extent is a bounding box: min x, min y, max x, max y.
type Extent [4]float64

// IsZero reports whether the extent is unset.
func (e Extent) IsZero() bool { return e == Extent{} }

// LayerType is the geometry type of a layer.
type LayerType string

// Layer types.
const (
	Point   LayerType = "POINT"
	Line    LayerType = "LINE"
	Polygon LayerType = "POLYGON"
	Raster  LayerType = "RASTER"
)

// Layer is a map layer: a PostGIS table or query (Point, Line, Polygon), or a raster file
// read by GDAL (Raster). Vector layers are served by WMS and WFS; raster layers by WMS and WCS.
type Layer struct {
	// Name is the layer name in every service, e.g. "roads".
	Name     string
	Title    string
	Abstract string
	Type     LayerType
	// Table is the PostGIS source of a vector layer: a table name or a subquery
	// "(SELECT ...) AS t". It needs Config.Database.
	Table string
	// Geometry is the geometry column (default "geom"), Key the unique id column used as
	// feature id (default "id"), SRID the geometry's SRID (default 4326).
	Geometry string
	Key      string
	SRID     int
	// File is the raster of a raster layer: a path in the container (see Config.Files).
	File string
	// Projection of the data, default "EPSG:<SRID>" (vector) or "EPSG:4326" (raster).
	Projection string
	// Extent of the data in its projection; optional (MapServer computes it when unset).
	Extent Extent
	// Classes style the layer; a vector layer without classes is drawn in grey.
	Classes []Class
	// Processing directives, e.g. "SCALE=0,1000" for a raster.
	Processing []string
	// Opacity in percent (0 means 100).
	Opacity int
	// NoOGCAPI keeps a vector layer out of OGC API – Features when the map serves it (the
	// layer stays in WMS and WFS). Raster layers are never features.
	NoOGCAPI bool
}

// Class styles the features of a layer that match Expression (all when empty).
type Class struct {
	Name string
	// Expression is a MapServer expression, e.g. "([kind] = 'city')" or "([pop] > 100000)".
	Expression string
	// Color fills polygons and points and draws lines, "#rrggbb".
	Color string
	// OutlineColor outlines polygons and points, "#rrggbb".
	OutlineColor string
	// Size of point symbols in pixels (default 8).
	Size float64
	// Width of lines and outlines in pixels (default 1).
	Width float64
	// ColorRange and DataRange colour a raster band linearly, e.g. from "#1a9641" at 0 to
	// "#d7191c" at 1000.
	ColorRange [2]string
	DataRange  [2]float64
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	colorRE = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)
	epsgRE  = regexp.MustCompile(`^EPSG:[0-9]+$`)
	// columnRE is a plain SQL column name (Geometry, Key): they go into the layer's DATA.
	columnRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	// A class expression is written as is into the mapfile: it must be one token there, a
	// string, a regular expression, or a parenthesised logical expression on one line.
	exprStringRE = regexp.MustCompile(`^("[^"\\]*"|'[^'\\]*'|/[^/\\]*/i?)$`)
)

// exprProblem says why a class expression cannot be written into a mapfile, or "".
func exprProblem(e string) string {
	for _, r := range e {
		if r < ' ' || r == 0x7f {
			return fmt.Sprintf("%q must be on one line, without control characters", e)
		}
	}
	if exprStringRE.MatchString(e) {
		return ""
	}
	if !strings.HasPrefix(e, "(") || !strings.HasSuffix(e, ")") {
		return fmt.Sprintf("%q must be a quoted string, a /regex/ or a logical expression in parentheses, e.g. ([pop] > 1000)", e)
	}
	depth := 0
	for i, r := range e {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		}
		if depth < 0 || (depth == 0 && i != len(e)-1) {
			return fmt.Sprintf("%q: the first parenthesis must close at the end (wrap the whole expression in parentheses)", e)
		}
	}
	if depth != 0 {
		return fmt.Sprintf("unbalanced parentheses in %q", e)
	}
	return ""
}

func (m Map) name() string {
	if m.Name == "" {
		return "mapserver"
	}
	return m.Name
}

// VectorLayers returns the names of the vector layers (served by WFS).
func (m Map) VectorLayers() []string {
	var out []string
	for _, l := range m.Layers {
		if l.Type != Raster {
			out = append(out, l.Name)
		}
	}
	return out
}

// FeatureLayers returns the names of the layers served as OGC API – Features collections:
// the vector layers without NoOGCAPI when the map has OGCAPI, else none.
func (m Map) FeatureLayers() []string {
	if !m.OGCAPI {
		return nil
	}
	var out []string
	for _, l := range m.Layers {
		if l.Type != Raster && !l.NoOGCAPI {
			out = append(out, l.Name)
		}
	}
	return out
}

// RasterLayers returns the names of the raster layers (served by WCS).
func (m Map) RasterLayers() []string {
	var out []string
	for _, l := range m.Layers {
		if l.Type == Raster {
			out = append(out, l.Name)
		}
	}
	return out
}

// Problems checks the map; each problem has a path relative to the map and a message.
func (m Map) Problems(hasDB bool) [][2]string {
	var out [][2]string
	add := func(p, f string, a ...any) { out = append(out, [2]string{p, fmt.Sprintf(f, a...)}) }
	if !nameRE.MatchString(m.name()) {
		add("name", "%q must be letters, digits, '-' or '_', starting with a letter", m.Name)
	}
	if m.Projection != "" && !epsgRE.MatchString(m.Projection) {
		add("projection", "%q must be EPSG:<code>", m.Projection)
	}
	for i, s := range m.SRS {
		if !epsgRE.MatchString(s) {
			add(fmt.Sprintf("srs[%d]", i), "%q must be EPSG:<code>", s)
		}
	}
	if e := m.Extent; !e.IsZero() && (e[0] >= e[2] || e[1] >= e[3]) {
		add("extent", "min must be below max: %v", e)
	}
	if len(m.Layers) == 0 {
		add("layers", "a map needs at least one layer")
	}
	seen := map[string]bool{}
	for i, l := range m.Layers {
		p := fmt.Sprintf("layers[%d]", i)
		if !nameRE.MatchString(l.Name) {
			add(p+".name", "%q must be letters, digits, '-' or '_', starting with a letter", l.Name)
		} else if seen[l.Name] {
			add(p+".name", "layer %q is defined twice", l.Name)
		}
		seen[l.Name] = true
		switch l.Type {
		case Point, Line, Polygon:
			if l.Table == "" {
				add(p+".table", "a vector layer needs a PostGIS table or query")
			} else if !hasDB {
				add(p+".table", "a PostGIS layer needs Config.Database")
			}
			if l.File != "" {
				add(p+".file", "a vector layer reads PostGIS, not a file")
			}
		case Raster:
			if l.File == "" {
				add(p+".file", "a raster layer needs a file")
			}
			if l.Table != "" {
				add(p+".table", "a raster layer reads a file, not PostGIS")
			}
		default:
			add(p+".type", "%q must be POINT, LINE, POLYGON or RASTER", l.Type)
		}
		if l.Projection != "" && !epsgRE.MatchString(l.Projection) {
			add(p+".projection", "%q must be EPSG:<code>", l.Projection)
		}
		if l.Geometry != "" && !columnRE.MatchString(l.Geometry) {
			add(p+".geometry", "%q must be a column name (letters, digits, '_')", l.Geometry)
		}
		if l.Key != "" && !columnRE.MatchString(l.Key) {
			add(p+".key", "%q must be a column name (letters, digits, '_')", l.Key)
		}
		if l.SRID < 0 {
			add(p+".srid", "must be positive, got %d", l.SRID)
		}
		if l.Opacity < 0 || l.Opacity > 100 {
			add(p+".opacity", "must be within 0..100")
		}
		for j, c := range l.Classes {
			cp := fmt.Sprintf("%s.classes[%d]", p, j)
			for k, col := range map[string]string{"color": c.Color, "outlineColor": c.OutlineColor, "colorRange[0]": c.ColorRange[0], "colorRange[1]": c.ColorRange[1]} {
				if col != "" && !colorRE.MatchString(col) {
					add(cp+"."+k, "%q must be #rrggbb", col)
				}
			}
			if (c.ColorRange[0] == "") != (c.ColorRange[1] == "") {
				add(cp+".colorRange", "needs both colours")
			}
			if c.Expression != "" {
				if pr := exprProblem(c.Expression); pr != "" {
					add(cp+".expression", "%s", pr)
				}
			}
		}
	}
	return out
}

// Render writes the mapfile. dsn is the libpq connection string of PostGIS layers (without
// a password: libpq reads it from the password file the image makes from the secret).
//
// With OGCAPI, oga_onlineresource is "%oga_root%", a runtime substitution of the URL root
// Kargo's image passes with each request (the scheme, host and path the client used, e.g.
// http://127.0.0.1:8080/ogcapi), validated, with the map's own path as fallback. Without it,
// OGC API is disabled (oga_enable_request "!*"). Every map offers the GetMap format "mvt"
// (application/vnd.mapbox-vector-tile) with the layers' attributes.
func (m Map) Render(dsn string) string {
	var b strings.Builder
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	proj := m.Projection
	if proj == "" {
		proj = "EPSG:4326"
	}
	ext := m.Extent
	if ext.IsZero() {
		ext = Extent{-180, -90, 180, 90}
	}
	srs := m.SRS
	if len(srs) == 0 {
		srs = []string{"EPSG:4326", "EPSG:3857", "EPSG:900913"}
	}
	if !contains(srs, proj) {
		srs = append([]string{proj}, srs...)
	}
	title := m.Title
	if title == "" {
		title = m.name()
	}
	b.WriteString("# Generated by Kargo (services/mapserver). Edit the Go values, not this file.\n")
	w(0, "MAP")
	w(1, "NAME %s", q(m.name()))
	w(1, "EXTENT %s", ext.String())
	w(1, "SIZE 512 512")
	w(1, "MAXSIZE 4096")
	w(1, "IMAGECOLOR 255 255 255")
	w(1, "PROJECTION %s END", q(initCode(proj)))
	w(1, `OUTPUTFORMAT NAME "png" DRIVER "AGG/PNG" MIMETYPE "image/png" IMAGEMODE RGBA EXTENSION "png" TRANSPARENT ON END`)
	w(1, `OUTPUTFORMAT NAME "jpeg" DRIVER "AGG/JPEG" MIMETYPE "image/jpeg" IMAGEMODE RGB EXTENSION "jpg" END`)
	w(1, `OUTPUTFORMAT NAME "GTiff" DRIVER "GDAL/GTiff" MIMETYPE "image/tiff" IMAGEMODE FLOAT32 EXTENSION "tif" END`)
	w(1, `OUTPUTFORMAT NAME "geojson" DRIVER "OGR/GEOJSON" MIMETYPE "application/json; subtype=geojson" FORMATOPTION "STORAGE=stream" FORMATOPTION "FORM=SIMPLE" END`)
	w(1, `OUTPUTFORMAT NAME "mvt" DRIVER "MVT" MIMETYPE %s EXTENSION "mvt" FORMATOPTION "EXTENT=4096" FORMATOPTION "EDGE_BUFFER=16" END`, q(MVT))
	w(1, `SYMBOL NAME "circle" TYPE ELLIPSE FILLED TRUE POINTS 1 1 END END`)
	w(1, "WEB")
	w(2, "METADATA")
	w(3, `"ows_title" %s`, q(title))
	if m.Abstract != "" {
		w(3, `"ows_abstract" %s`, q(m.Abstract))
	}
	w(3, `"ows_enable_request" "*"`)
	w(3, `"ows_srs" %s`, q(strings.Join(srs, " ")))
	w(3, `"wms_feature_info_mime_type" "application/json"`)
	w(3, `"wfs_getfeature_formatlist" "geojson"`)
	w(3, `"wcs_formats" "GTiff"`)
	if m.OGCAPI {
		w(3, `"oga_onlineresource" "%%oga_root%%"`)
	} else {
		w(3, `"oga_enable_request" "!*"`)
	}
	w(2, "END")
	if m.OGCAPI {
		// The image passes oga_root; only a URL root of this API may be substituted.
		w(2, "VALIDATION")
		w(3, `"oga_root" %s`, q(`^https?://([-A-Za-z0-9.]+|[[][0-9A-Fa-f:.]+[]])(:[0-9]{1,5})?(/[A-Za-z][-A-Za-z0-9_]*)?/ogcapi$`))
		w(3, `"default_oga_root" %s`, q(ogcapiPath(m.name()+".map", false)))
		w(2, "END")
	}
	w(1, "END")
	for _, l := range m.Layers {
		m.renderLayer(w, l, dsn)
	}
	w(0, "END")
	return b.String()
}

func (m Map) renderLayer(w func(int, string, ...any), l Layer, dsn string) {
	w(1, "LAYER")
	w(2, "NAME %s", q(l.Name))
	w(2, "TYPE %s", l.Type)
	w(2, "STATUS ON")
	proj := l.Projection
	if l.Type == Raster {
		w(2, "DATA %s", q(l.File))
		if proj == "" {
			proj = "EPSG:4326"
		}
	} else {
		geom, key, srid := cmp.Or(l.Geometry, "geom"), cmp.Or(l.Key, "id"), l.SRID
		if srid == 0 {
			srid = 4326
		}
		if proj == "" {
			proj = "EPSG:" + strconv.Itoa(srid)
		}
		w(2, "CONNECTIONTYPE POSTGIS")
		w(2, "CONNECTION %s", q(dsn+" connect_timeout=5"))
		w(2, "DATA %s", q(fmt.Sprintf("%s FROM %s USING UNIQUE %s USING SRID=%d", geom, l.Table, key, srid)))
		w(2, `TEMPLATE "query"`)
	}
	w(2, "PROJECTION %s END", q(initCode(proj)))
	if !l.Extent.IsZero() {
		w(2, "EXTENT %s", l.Extent.String())
	}
	for _, p := range l.Processing {
		w(2, "PROCESSING %s", q(p))
	}
	if l.Opacity > 0 && l.Opacity < 100 {
		w(2, "COMPOSITE OPACITY %d END", l.Opacity)
	}
	w(2, "METADATA")
	w(3, `"ows_title" %s`, q(cmp.Or(l.Title, l.Name)))
	if l.Abstract != "" {
		w(3, `"ows_abstract" %s`, q(l.Abstract))
	}
	if l.Type == Raster || l.NoOGCAPI {
		w(3, `"oga_enable_request" "!*"`)
	}
	if l.Type == Raster {
		w(3, `"wfs_enable_request" "!*"`)
		w(3, `"wcs_label" %s`, q(cmp.Or(l.Title, l.Name)))
		w(3, `"wcs_rangeset_name" %s`, q(l.Name))
		w(3, `"wcs_rangeset_label" %s`, q(cmp.Or(l.Title, l.Name)))
	} else {
		w(3, `"wcs_enable_request" "!*"`)
		if m.OGCAPI && !l.NoOGCAPI {
			w(3, `"oga_description" %s`, q(cmp.Or(l.Abstract, l.Title, l.Name)))
		}
		w(3, `"gml_include_items" "all"`)
		w(3, `"gml_exclude_items" %s`, q(cmp.Or(l.Geometry, "geom")))
		w(3, `"gml_featureid" %s`, q(cmp.Or(l.Key, "id")))
		w(3, `"gml_types" "auto"`)
		w(3, `"wms_include_items" "all"`)
	}
	w(2, "END")
	classes := l.Classes
	if len(classes) == 0 && l.Type != Raster {
		classes = []Class{{Color: "#808080", OutlineColor: "#404040"}}
	}
	for _, c := range classes {
		w(2, "CLASS")
		if c.Name != "" {
			w(3, "NAME %s", q(c.Name))
		}
		if c.Expression != "" {
			w(3, "EXPRESSION %s", c.Expression)
		}
		w(3, "STYLE")
		if c.ColorRange[0] != "" {
			w(4, "COLORRANGE %s %s", rgb(c.ColorRange[0]), rgb(c.ColorRange[1]))
			w(4, "DATARANGE %s %s", num(c.DataRange[0]), num(c.DataRange[1]))
		}
		switch l.Type {
		case Point:
			w(4, `SYMBOL "circle"`)
			w(4, "SIZE %s", num(cmp.Or(c.Size, 8)))
		case Line:
			w(4, "WIDTH %s", num(cmp.Or(c.Width, 1)))
		}
		if c.Color != "" {
			w(4, "COLOR %s", rgb(c.Color))
		}
		if c.OutlineColor != "" && l.Type != Line {
			w(4, "OUTLINECOLOR %s", rgb(c.OutlineColor))
			w(4, "WIDTH %s", num(cmp.Or(c.Width, 1)))
		}
		w(3, "END")
		w(2, "END")
	}
	w(1, "END")
}

// String is the extent in mapfile syntax.
func (e Extent) String() string {
	return fmt.Sprintf("%s %s %s %s", num(e[0]), num(e[1]), num(e[2]), num(e[3]))
}

// q quotes a mapfile string: backslashes and quotes escaped, control characters (a line
// break would end the string) turned into spaces.
func q(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func initCode(epsg string) string { return "init=epsg:" + strings.TrimPrefix(epsg, "EPSG:") }

func rgb(hex string) string {
	v, _ := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	return fmt.Sprintf("%d %d %d", v>>16&0xff, v>>8&0xff, v&0xff)
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

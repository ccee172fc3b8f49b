// Package mapcache builds a MapCache tile cache service in front of a WMS source: WMTS (KVP and
// RESTful), TMS and a WMS facade over tiles kept on a named volume, plus an optional seeding job.
//
// Vector tiles (Config.VectorTiles): each layer L also gets the tileset L-mvt, Mapbox vector
// tiles (application/vnd.mapbox-vector-tile) asked from the source's WMS GetMap (MapServer's
// MVT output) and cached as they come (a MapCache RAW format, one tile per request), served by
// WMTS and TMS like the image tiles. Every tileset is also served as XYZ tiles (MapCache's
// gmaps service) at /xyz/<tileset>@<grid>/{z}/{x}/{y}.<ext>, the URL template web maps take.
//
// The image is kargo/mapcache:1.14 (MapCache from Debian as an Apache module), which keeps the
// camptocamp/mapcache contract: configuration in /etc/mapcache/mapcache.xml, served under
// /mapcache. The builder generates mapcache.xml (one tileset per source layer) and ships it as
// a Swarm config; tiles live on a volume mounted at /var/cache/mapcache.
//
// Tiles are stored one file per tile at <tileset>/<grid>/<z>/<x>/<y>.<ext> of the volume
// (TileTemplate), y counted from the top as in XYZ URLs and WMTS TileRow: the very path of
// the XYZ and WMTS RESTful tile URLs. So a gateway routing the cache (gateway.OGC) mounts the
// volume read-only and answers /xyz/... and /wmts/1.0.0/... tiles already cached straight
// from their files, with ETag and Last-Modified, asking MapCache only for the others (which
// it renders and stores). TMS tiles count y from the bottom, so they always go to MapCache.
// Responses of both carry Cache-Control max-age=Config.Expires.
package mapcache

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/internal/shell"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/stack"
)

// Grid is a tiling scheme MapCache knows natively.
type Grid string

// Grids built into MapCache.
const (
	// GoogleMapsCompatible is the WMTS well-known Web Mercator grid (EPSG:3857, 256 px tiles),
	// the one web maps use.
	GoogleMapsCompatible Grid = "GoogleMapsCompatible"
	// WGS84 is the geographic grid (EPSG:4326, 2x1 tiles at level 0).
	WGS84 Grid = "WGS84"
	// GoogleCRS84Quad is the WMTS well-known geographic quad tree (EPSG:4326, 1 tile at level 0).
	GoogleCRS84Quad Grid = "GoogleCRS84Quad"
	// G is MapCache's own name for Web Mercator ("g"), as the TMS and KML services use it.
	G Grid = "g"
)

// Grids returns the grids Kargo accepts, in a stable order.
func Grids() []Grid { return []Grid{GoogleMapsCompatible, WGS84, GoogleCRS84Quad, G} }

func (g Grid) valid() bool {
	for _, k := range Grids() {
		if g == k {
			return true
		}
	}
	return false
}

// Format is the image format of the cached tiles.
type Format string

// Tile formats built into MapCache.
const (
	PNG  Format = "PNG"
	JPEG Format = "JPEG"
	// Mixed stores opaque tiles as JPEG and others as PNG.
	Mixed Format = "mixed"
)

// Paths of the image's contract.
const (
	// ConfigPath is where MapCache reads its configuration.
	ConfigPath = "/etc/mapcache/mapcache.xml"
	// CacheDir is where the disk cache keeps tiles; the volume is mounted there.
	CacheDir = "/var/cache/mapcache"
	// TileTemplate is where the disk cache stores each tile (MapCache's template layout): y
	// counted from the top ({inv_y}, MapCache's own y counting from the bottom), as XYZ URLs
	// and WMTS TileRow do.
	TileTemplate = CacheDir + "/{tileset}/{grid}/{z}/{x}/{inv_y}.{ext}"
	// LockDir is MapCache's lock directory, on the cache volume so that every container
	// sharing the volume (the cache service's tasks and the seeding job) waits for a tile
	// another one is rendering instead of rendering it again. It must exist and be writable
	// by www-data: Kargo's image makes it at start, the seeding job before seeding.
	LockDir = CacheDir + "/.locks"
	// Alias is the URL path MapCache is served under.
	Alias = "/mapcache"
	// MVT is the media type of the vector tiles (Config.VectorTiles).
	MVT = "application/vnd.mapbox-vector-tile"
	// MVTSuffix ends the name of the vector tileset of a layer: roads-mvt.
	MVTSuffix = "-mvt"
	// Port is the HTTP port of the image.
	Port uint32 = 80
)

// Seed describes a seeding job: mapcache_seed run once, in Swarm replicated-job mode, against
// the same configuration and volume as the cache service.
type Seed struct {
	// BBox is the area to seed in longitude/latitude (EPSG:4326): min lon, min lat, max lon,
	// max lat. It is converted to each grid's coordinates. The zero value seeds the whole grid.
	BBox [4]float64
	// MinZoom and MaxZoom are the zoom levels to seed, inclusive.
	MinZoom, MaxZoom int
	// Grids to seed; empty means every grid of the cache.
	Grids []Grid
	// Layers to seed; empty means every layer of the cache.
	Layers []string
	// Threads is mapcache_seed's number of fetching threads (default 2).
	Threads int
	// Force recreates tiles that already exist.
	Force bool
}

// Config describes a MapCache service.
//
// Common configures the cache service: Name defaults to "mapcache" (the seeding job is named
// <Name>-seed); Image to kargo/mapcache:1.14; Replicas to 1 (replicas share the volume, so on
// several nodes use a shared volume driver or pin the service with Placement); Resources to 1
// CPU and 512 MiB. The seeding job shares its image, resources, placement, env and networks.
type Config struct {
	builder.Common
	// Source is the service whose WMS endpoint the tiles are rendered from (a MapServer
	// service, for example); it is reached over the stack's network at
	// http://<name>:<port><path>.
	Source *stack.Service
	// SourceURL is a WMS URL to use instead of Source (for a WMS outside the stack).
	SourceURL string
	// Layers are the WMS layers of the source to cache; each becomes a tileset of that name.
	Layers []string
	// Grids of the tilesets (default GoogleMapsCompatible).
	Grids []Grid
	// Format of the tiles (default PNG).
	Format Format
	// MetaTile is the number of tiles (columns, rows) fetched from the source at once
	// (default 1x1: one WMS request per tile). Larger values cut labels less at tile edges.
	MetaTile [2]int
	// Expires is how long clients may keep a tile, default 1h: MapCache's HTTP Expires and
	// Cache-Control max-age, and the max-age of the tiles a gateway answers from the cache's
	// files (Cache.Files).
	Expires time.Duration
	// VectorTiles adds, for each layer L, the tileset L-mvt of Mapbox vector tiles rendered
	// by the source (its WMS must offer the GetMap format application/vnd.mapbox-vector-tile,
	// as Kargo's typed MapServer maps do). Seeding seeds them too.
	VectorTiles bool
	// PublicURL is the URL the capabilities documents advertise, e.g.
	// "https://maps.example.org/" when a gateway routes /wmts and /tms to this service.
	// Empty means the URL each request came in with.
	PublicURL string
	// Volume holding the tiles (default "<name>-cache").
	Volume string
	// Seed, when set, adds a seeding job.
	Seed *Seed
}

// defaults of the cache service.
var defaults = builder.Defaults{
	Name:      "mapcache",
	Image:     images.Ref("mapcache"),
	Replicas:  1,
	Resources: stack.Resources{CPULimit: 1, MemoryLimit: 512 * stack.MiB, MemoryReservation: 64 * stack.MiB},
}

// Cache is the component New returns: the cache service and, when seeding was asked, the
// seeding job. Add it to a stack as a whole; pass it to gateway.OGC to route /wmts and /tms.
type Cache struct {
	// Service is the MapCache service.
	Service *stack.Service
	// Seed is the seeding job, or nil.
	Seed *stack.Service
	// XML is the generated mapcache.xml.
	XML []byte

	volume  string
	expires time.Duration
	format  Format
}

// Tile paths a gateway answers from the cache's files (see Files): the rest of the path after
// the public prefix, and the file it is in the volume.
const (
	tilesetPat = "([A-Za-z0-9_:-][A-Za-z0-9_.:-]*)"
	gridPat    = "([A-Za-z0-9_]+)"
	numPat     = "([0-9]+)"
	extPat     = "(png|jpg|mvt)"
	// xyzMatch: /<tileset>@<grid>/<z>/<x>/<y>.<ext>
	xyzMatch = "/" + tilesetPat + "@" + gridPat + "/" + numPat + "/" + numPat + "/" + numPat + "[.]" + extPat
	// wmtsMatch: /1.0.0/<tileset>/default/<grid>/<z>/<row>/<col>.<ext>
	wmtsMatch = "/1[.]0[.]0/" + tilesetPat + "/default/" + gridPat + "/" + numPat + "/" + numPat + "/" + numPat + "[.]" + extPat
)

// Files tells a gateway (gateway.OGC) how to answer tiles of the public prefix /xyz or /wmts
// from the cache volume: the files MapCache stored (TileTemplate), read-only, with
// Cache-Control max-age=Config.Expires; a tile not stored yet goes to MapCache. Nil for other
// prefixes and for the mixed format (whose files are PNG or JPEG under one extension).
//
// On a Swarm of several nodes, the gateway sees the volume of its own node: tiles are served
// from files there only when a MapCache task runs (or ran) on that node; otherwise every tile
// goes to MapCache, as without files. MapCache writes a tile file in place (no rename), so a
// request arriving during the microseconds of a new tile's write may read it incomplete.
func (c *Cache) Files(prefix string) *gateway.Files {
	if c == nil || c.format == Mixed {
		return nil
	}
	f := &gateway.Files{Volume: c.volume, MaxAge: c.expires, Types: map[string]string{".mvt": MVT}}
	switch prefix {
	case "/xyz":
		f.Match, f.Path = xyzMatch, "/$1/$2/$3/$4/$5.$6"
	case "/wmts":
		f.Match, f.Path = wmtsMatch, "/$1/$2/$3/$5/$4.$6"
	default:
		return nil
	}
	return f
}

// Services returns the cache service, then the seeding job when there is one.
func (c *Cache) Services() []*stack.Service {
	if c == nil {
		return nil
	}
	if c.Seed == nil {
		return []*stack.Service{c.Service}
	}
	return []*stack.Service{c.Service, c.Seed}
}

// AddTo adds the cache service and its seeding job to the stack.
func (c *Cache) AddTo(s *stack.Stack) {
	for _, svc := range c.Services() {
		svc.AddTo(s)
	}
}

var layerRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// New builds the MapCache component. Problems in the configuration (no source, a source
// without a WMS endpoint, an unknown grid, bad zoom levels) are recorded on the service and
// reported by the stack's Validate with their path.
func New(cfg Config) *Cache {
	svc := builder.Base(cfg.Common, defaults)
	cfg.Name, cfg.Image, cfg.Replicas = svc.Name, svc.Image, *svc.Replicas
	if len(cfg.Grids) == 0 {
		cfg.Grids = []Grid{GoogleMapsCompatible}
	}
	if cfg.Format == "" {
		cfg.Format = PNG
	}
	if cfg.MetaTile == [2]int{} {
		cfg.MetaTile = [2]int{1, 1}
	}
	if cfg.Expires == 0 {
		cfg.Expires = time.Hour
	}
	if cfg.Volume == "" {
		cfg.Volume = cfg.Name + "-cache"
	}
	svc.Mounts = []stack.Mount{{Type: stack.VolumeMount, Source: cfg.Volume, Target: CacheDir}}
	svc.Configs = []stack.FileRef{{Source: cfg.Name + "-xml", Target: ConfigPath}}
	svc.Health = &stack.Health{
		Test:        []string{"CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1" + Alias + "/wmts/1.0.0/WMTSCapabilities.xml"},
		Interval:    5 * time.Second,
		Timeout:     5 * time.Second,
		StartPeriod: 10 * time.Second,
		Retries:     3,
	}
	svc.Endpoints = []stack.Endpoint{
		{Kind: stack.WMTS, Port: Port, Path: Alias + "/wmts", Layers: Tilesets(cfg), Public: "/wmts"},
		{Kind: stack.TMS, Port: Port, Path: Alias + "/tms", Layers: Tilesets(cfg), Public: "/tms"},
		{Kind: stack.WMS, Port: Port, Path: Alias, Layers: cfg.Layers},
		{Kind: stack.XYZ, Port: Port, Path: Alias + "/gmaps", Layers: xyzLayers(cfg), Public: "/xyz"},
	}
	svc.Declares = stack.Objects{Volumes: []stack.Volume{{Name: cfg.Volume}}}

	sourceURL := cfg.SourceURL
	switch {
	case cfg.Source != nil && cfg.SourceURL != "":
		svc.Problemf("config.sourceURL", "give either a source service or a source URL, not both")
	case cfg.Source != nil:
		ep, ok := wmsEndpoint(cfg.Source)
		if !ok {
			svc.Problemf("config.source", "service %q has no WMS endpoint", cfg.Source.Name)
		} else {
			sourceURL = fmt.Sprintf("http://%s:%d%s", cfg.Source.Name, ep.Port, ep.Path)
		}
		svc.DependsOn = []string{cfg.Source.Name}
	case cfg.SourceURL != "":
		if u, err := url.Parse(cfg.SourceURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			svc.Problemf("config.sourceURL", "%q is not an http(s) URL", cfg.SourceURL)
		}
	default:
		svc.Problemf("config.source", "is required (a service with a WMS endpoint, or sourceURL)")
	}
	if len(cfg.Layers) == 0 {
		svc.Problemf("config.layers", "at least one layer is required")
	}
	seen := map[string]bool{}
	for i, l := range cfg.Layers {
		if !layerRE.MatchString(l) {
			svc.Problemf(fmt.Sprintf("config.layers[%d]", i), "%q is not a valid layer name (letters, digits, '_', '.', ':', '-')", l)
		}
		if seen[l] {
			svc.Problemf(fmt.Sprintf("config.layers[%d]", i), "layer %q is listed twice", l)
		}
		seen[l] = true
		if cfg.VectorTiles && seen[l+MVTSuffix] || cfg.VectorTiles && strings.HasSuffix(l, MVTSuffix) && seen[strings.TrimSuffix(l, MVTSuffix)] {
			svc.Problemf(fmt.Sprintf("config.layers[%d]", i), "layer %q clashes with the name of a vector tileset (<layer>%s)", l, MVTSuffix)
		}
	}
	checkGrids(svc, "config.grids", cfg.Grids, nil)
	switch cfg.Format {
	case PNG, JPEG, Mixed:
	default:
		svc.Problemf("config.format", "unknown format %q (want PNG, JPEG or mixed)", cfg.Format)
	}
	if cfg.MetaTile[0] < 1 || cfg.MetaTile[1] < 1 || cfg.MetaTile[0] > 16 || cfg.MetaTile[1] > 16 {
		svc.Problemf("config.metaTile", "must be between 1x1 and 16x16, got %dx%d", cfg.MetaTile[0], cfg.MetaTile[1])
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err != nil || u.Scheme == "" || u.Host == "" {
			svc.Problemf("config.publicURL", "%q is not an absolute URL", cfg.PublicURL)
		}
	}

	data := Render(cfg, sourceURL)
	svc.Declares.Configs = []stack.Config{{Name: cfg.Name + "-xml", Data: data}}
	c := &Cache{Service: svc, XML: data, volume: cfg.Volume, expires: cfg.Expires, format: cfg.Format}

	if cfg.Seed != nil {
		c.Seed = seedJob(cfg, svc)
	}
	return c
}

// Tilesets returns the names of the tilesets of a configuration: its layers, then their
// vector tilesets (L-mvt) when VectorTiles is set.
func Tilesets(cfg Config) []string {
	out := append([]string(nil), cfg.Layers...)
	if cfg.VectorTiles {
		for _, l := range cfg.Layers {
			out = append(out, l+MVTSuffix)
		}
	}
	return out
}

// xyzLayers are the layers an XYZ readiness probe reads a tile of: the first tileset (and
// the first vector tileset) on the first grid, as "<tileset>@<grid>.<ext>".
func xyzLayers(cfg Config) []string {
	if len(cfg.Layers) == 0 || len(cfg.Grids) == 0 {
		return nil
	}
	g := string(cfg.Grids[0])
	ext := "png"
	if cfg.Format == JPEG {
		ext = "jpg"
	}
	out := []string{cfg.Layers[0] + "@" + g + "." + ext}
	if cfg.VectorTiles {
		out = append(out, cfg.Layers[0]+MVTSuffix+"@"+g+".mvt")
	}
	return out
}

func checkGrids(svc *stack.Service, path string, grids []Grid, allowed []Grid) {
	for i, g := range grids {
		if !g.valid() {
			svc.Problemf(fmt.Sprintf("%s[%d]", path, i), "unknown grid %q (known: %s)", g, gridList(Grids()))
			continue
		}
		if allowed != nil && !containsGrid(allowed, g) {
			svc.Problemf(fmt.Sprintf("%s[%d]", path, i), "grid %q is not a grid of the cache (%s)", g, gridList(allowed))
		}
	}
}

func containsGrid(gs []Grid, g Grid) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}

func gridList(gs []Grid) string {
	s := make([]string, len(gs))
	for i, g := range gs {
		s[i] = string(g)
	}
	return strings.Join(s, ", ")
}

// wmsEndpoint returns the first WMS endpoint of a service.
func wmsEndpoint(s *stack.Service) (stack.Endpoint, bool) {
	for _, ep := range s.Endpoints {
		if ep.Kind == stack.WMS {
			return ep, true
		}
	}
	return stack.Endpoint{}, false
}

func seedJob(cfg Config, svc *stack.Service) *stack.Service {
	sd := *cfg.Seed
	job := &stack.Service{
		Name:      cfg.Name + "-seed",
		Image:     cfg.Image,
		Mode:      stack.ReplicatedJob,
		Replicas:  stack.Ptr(uint64(1)),
		User:      "www-data",
		Resources: svc.Resources,
		Placement: cfg.Placement,
		Env:       maps.Clone(cfg.Env),
		Networks:  svc.Networks,
		Mounts:    svc.Mounts,
		Configs:   svc.Configs,
		Health:    &stack.Health{Test: []string{"NONE"}},
		DependsOn: []string{cfg.Name},
	}
	if sd.Threads == 0 {
		sd.Threads = 2
	}
	grids := sd.Grids
	if len(grids) == 0 {
		grids = cfg.Grids
	}
	layers := sd.Layers
	if len(layers) == 0 {
		layers = Tilesets(cfg)
	}
	if sd.MinZoom < 0 || sd.MaxZoom < sd.MinZoom || sd.MaxZoom > 30 {
		svc.Problemf("config.seed", "zoom levels must satisfy 0 <= minZoom <= maxZoom <= 30, got %d..%d", sd.MinZoom, sd.MaxZoom)
	}
	if b := sd.BBox; b != [4]float64{} && (b[0] >= b[2] || b[1] >= b[3] || b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90) {
		svc.Problemf("config.seed.bbox", "must be min lon, min lat, max lon, max lat within [-180,180]x[-90,90], got %v", b)
	}
	if sd.Threads < 1 || sd.Threads > 64 {
		svc.Problemf("config.seed.threads", "must be between 1 and 64, got %d", sd.Threads)
	}
	checkGrids(svc, "config.seed.grids", sd.Grids, cfg.Grids)
	for i, l := range sd.Layers {
		found := false
		for _, k := range Tilesets(cfg) {
			found = found || k == l
		}
		if !found {
			svc.Problemf(fmt.Sprintf("config.seed.layers[%d]", i), "layer %q is not a layer of the cache", l)
		}
	}
	// One mapcache_seed run per tileset and grid, one after the other; the job fails when one
	// of them fails.
	var cmds []string
	for _, l := range layers {
		for _, g := range grids {
			args := []string{"mapcache_seed", "-c", ConfigPath, "-t", l, "-g", string(g),
				"-z", fmt.Sprintf("%d,%d", sd.MinZoom, sd.MaxZoom), "-n", strconv.Itoa(sd.Threads), "-b"}
			if sd.BBox != [4]float64{} {
				args = append(args, "-e", extent(g, sd.BBox))
			}
			if sd.Force {
				args = append(args, "-f")
			}
			for i, a := range args {
				args[i] = shell.Word(a)
			}
			cmds = append(cmds, strings.Join(args, " "))
		}
	}
	job.Command = []string{"sh", "-ec", "mkdir -p " + LockDir + "\n" + strings.Join(cmds, "\n")}
	return job
}

// extent converts a lon/lat box to the coordinates of the grid, clamped to its bounds.
func extent(g Grid, b [4]float64) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	switch g {
	case GoogleMapsCompatible, G:
		x0, y0 := mercator(b[0], b[1])
		x1, y1 := mercator(b[2], b[3])
		return f(round(x0)) + "," + f(round(y0)) + "," + f(round(x1)) + "," + f(round(y1))
	}
	return f(b[0]) + "," + f(b[1]) + "," + f(b[2]) + "," + f(b[3])
}

const earthRadius = 6378137.0

// maxLat is the latitude where Web Mercator's square world ends.
var maxLat = 2*math.Atan(math.Exp(math.Pi))*180/math.Pi - 90

func mercator(lon, lat float64) (x, y float64) {
	lat = math.Max(-maxLat, math.Min(maxLat, lat))
	x = earthRadius * lon * math.Pi / 180
	y = earthRadius * math.Log(math.Tan(math.Pi/4+lat*math.Pi/360))
	return x, y
}

func round(v float64) float64 { return math.Round(v*100) / 100 }

// Render returns the mapcache.xml of a configuration whose WMS source is at sourceURL. New
// calls it; it is exported for tests and for users who mount their own configuration.
func Render(cfg Config, sourceURL string) []byte {
	var b bytes.Buffer
	esc := func(s string) string {
		var e bytes.Buffer
		_ = xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- Generated by Kargo's mapcache builder. -->\n<mapcache>\n")
	if cfg.PublicURL != "" {
		u := cfg.PublicURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		fmt.Fprintf(&b, "  <metadata>\n    <url>%s</url>\n  </metadata>\n", esc(u))
	}
	// One file per tile at the path of its XYZ and WMTS RESTful URLs (TileTemplate), which a
	// gateway serves as files. The template layout does not link blank tiles to one file.
	fmt.Fprintf(&b, "  <cache name=\"disk\" type=\"disk\" layout=\"template\">\n    <template>%s</template>\n    <creation_retry>3</creation_retry>\n  </cache>\n", TileTemplate)
	mime := "image/png"
	if cfg.Format == JPEG {
		mime = "image/jpeg"
	}
	if cfg.VectorTiles {
		// Vector tiles are kept as the source sends them: no metatiles, no blank detection.
		fmt.Fprintf(&b, "  <format name=\"mvt\" type=\"RAW\">\n    <extension>mvt</extension>\n    <mime_type>%s</mime_type>\n  </format>\n", MVT)
	}
	for _, l := range cfg.Layers {
		fmt.Fprintf(&b, "  <source name=\"%s\" type=\"wms\">\n", esc(l))
		fmt.Fprintf(&b, "    <getmap>\n      <params>\n        <FORMAT>%s</FORMAT>\n        <LAYERS>%s</LAYERS>\n", mime, esc(l))
		if cfg.Format != JPEG {
			b.WriteString("        <TRANSPARENT>true</TRANSPARENT>\n")
		}
		b.WriteString("      </params>\n    </getmap>\n")
		fmt.Fprintf(&b, "    <http>\n      <url>%s</url>\n      <connection_timeout>10</connection_timeout>\n      <timeout>60</timeout>\n    </http>\n", esc(sourceURL))
		b.WriteString("  </source>\n")
		if cfg.VectorTiles {
			fmt.Fprintf(&b, "  <source name=\"%s%s\" type=\"wms\">\n", esc(l), MVTSuffix)
			fmt.Fprintf(&b, "    <getmap>\n      <params>\n        <FORMAT>%s</FORMAT>\n        <LAYERS>%s</LAYERS>\n      </params>\n    </getmap>\n", MVT, esc(l))
			fmt.Fprintf(&b, "    <http>\n      <url>%s</url>\n      <connection_timeout>10</connection_timeout>\n      <timeout>60</timeout>\n    </http>\n", esc(sourceURL))
			b.WriteString("  </source>\n")
		}
	}
	for _, l := range cfg.Layers {
		fmt.Fprintf(&b, "  <tileset name=\"%s\">\n    <source>%s</source>\n    <cache>disk</cache>\n", esc(l), esc(l))
		for _, g := range cfg.Grids {
			fmt.Fprintf(&b, "    <grid>%s</grid>\n", esc(string(g)))
		}
		fmt.Fprintf(&b, "    <format>%s</format>\n    <metatile>%d %d</metatile>\n    <metabuffer>0</metabuffer>\n    <expires>%d</expires>\n",
			esc(string(cfg.Format)), cfg.MetaTile[0], cfg.MetaTile[1], int(cfg.Expires/time.Second))
		fmt.Fprintf(&b, "    <metadata>\n      <title>%s</title>\n    </metadata>\n  </tileset>\n", esc(l))
		if cfg.VectorTiles {
			fmt.Fprintf(&b, "  <tileset name=\"%s%s\">\n    <source>%s%s</source>\n    <cache>disk</cache>\n", esc(l), MVTSuffix, esc(l), MVTSuffix)
			for _, g := range cfg.Grids {
				fmt.Fprintf(&b, "    <grid>%s</grid>\n", esc(string(g)))
			}
			fmt.Fprintf(&b, "    <format>mvt</format>\n    <metatile>1 1</metatile>\n    <metabuffer>0</metabuffer>\n    <expires>%d</expires>\n", int(cfg.Expires/time.Second))
			fmt.Fprintf(&b, "    <metadata>\n      <title>%s (vector tiles)</title>\n    </metadata>\n  </tileset>\n", esc(l))
		}
	}
	fmt.Fprintf(&b, "  <default_format>%s</default_format>\n", esc(string(cfg.Format)))
	for _, s := range []struct {
		name string
		on   bool
	}{{"wmts", true}, {"tms", true}, {"wms", true}, {"demo", true}, {"kml", false}, {"gmaps", true}, {"ve", false}} {
		fmt.Fprintf(&b, "  <service type=\"%s\" enabled=\"%t\"/>\n", s.name, s.on)
	}
	fmt.Fprintf(&b, "  <errors>report</errors>\n  <locker type=\"disk\">\n    <directory>%s</directory>\n    <timeout>60</timeout>\n  </locker>\n", LockDir)
	b.WriteString("  <threaded_fetching>true</threaded_fetching>\n  <log_level>warn</log_level>\n</mapcache>\n")
	return b.Bytes()
}

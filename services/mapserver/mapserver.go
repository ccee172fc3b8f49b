// Package mapserver builds a MapServer service for a Kargo stack: WMS, WFS and WCS over maps
// given as mapfiles of the deploy program (Config.Mapfiles, listed by ReadDir) or as Go values
// (Map, Layer, Class) rendered to mapfiles.
//
// The image contract is camptocamp/mapserver 8's: mapfiles under /etc/mapserver, a MapServer 8
// CONFIG file at /etc/mapserver.conf (MAPSERVER_CONFIG_FILE) whose MS_MAPFILE is the default
// map, MS_MAP_PATTERN lets ?map=/etc/mapserver/x.map pick another and MAPS aliases let
// ?map=NAME pick one by name, every URL path answered by mapserv, port 80 as root. Kargo's image
// (images/contexts/mapserver, kargo/mapserver:8.0) keeps that contract and adds what the
// builder relies on: curl for the health check, scripts in /docker-entrypoint.d run at start,
// and a libpq password file made at start from a secret.
//
// Database password: no mapfile, config or env value holds it. PostGIS layers connect with
// CONNECTION "host=… dbname=… user=…" only; the service mounts the PostGIS password secret
// and sets PGPASSWORD_FILE, from which the image's entry point writes a libpq password file
// (mode 0600, owned by the mapserv user) at container start, and mapserv reads it through
// PGPASSFILE. Upstream camptocamp images lack that step: with them, put the password in the
// CONNECTION of your own mapfiles at your own risk.
//
// OGC API – Features (Config.OGCAPI, or Map.OGCAPI for one map): MapServer 8 serves it at
// /ogcapi for the default map and /<map alias>/ogcapi for the others (landing page,
// conformance, collections, items with bbox, limit and paging, single items, GeoJSON and
// HTML). The image passes the URL each client used (X-Forwarded-Proto/Host/Port from a
// gateway, else the request's) to mapserv, and typed maps put it into oga_onlineresource, so
// every link of the API is the client's own URL: the gateway's public one through it. The
// image also mends MapServer 8.0's items pages as JSON (offset ignored on PostGIS layers,
// bbox dropped from the paging links), so next links page through a bbox; offset + limit
// stay within 10000.
//
// Vector tiles: typed maps also render application/vnd.mapbox-vector-tile (MapServer's MVT
// output) for WMS GetMap, which a tile cache (mapcache.Config.VectorTiles) caches.
//
// Readiness: the health check asks GetCapabilities and requires every layer of the WMS
// endpoint to be listed, so Swarm (and Kargo's Apply, which waits for healthy tasks) reports
// a task ready only when it serves its layers, on whatever node it runs.
package mapserver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/internal/shell"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
)

// Image contract constants.
const (
	// Port is the port Apache listens on when run as root.
	Port = 80
	// MapDir is where mapfiles live.
	MapDir = "/etc/mapserver"
	// ConfigFile is the MapServer 8 CONFIG file (MAPSERVER_CONFIG_FILE).
	ConfigFile = "/etc/mapserver.conf"
	// OGCAPIPath is where the image serves OGC API – Features of the default map; another
	// map's is /<map alias>/ogcapi (the alias in lower case, see MapAlias).
	OGCAPIPath = "/ogcapi"
	// OGCAPITemplates is the directory of the HTML templates of OGC API – Features in the
	// image (Debian's mapserver package).
	OGCAPITemplates = "/usr/share/mapserver/ogcapi/templates/html-plain/"
	// MVT is the media type of Mapbox vector tiles, a GetMap format of typed maps.
	MVT = "application/vnd.mapbox-vector-tile"
	// MapPattern is MS_MAP_PATTERN: any mapfile under /etc/mapserver may be asked for.
	MapPattern = `^/etc/mapserver/([^.][-_A-Za-z0-9.]*/{0,1})*[-_A-Za-z0-9]+[.]map$`
	// ServedByHeader is the response header naming the container that answered.
	ServedByHeader = "X-Served-By"
)

var defaults = builder.Defaults{
	Name:  "mapserver",
	Image: images.Ref("mapserver"),
	// Per task.
	Resources: stack.Resources{
		CPULimit: 1, MemoryLimit: 512 * stack.MiB,
		CPUReservation: 0.1, MemoryReservation: 64 * stack.MiB,
	},
}

// File is a file shipped to every task as a config: data (a small raster, a fontset, a
// symbol file), or a script run at start when its Target is /docker-entrypoint.d/*.sh.
// Exactly one of Data and Source (a path read by the deploy program when it renders the
// stack) gives its content; Swarm limits a config to 1000 KB (swarmx.MaxConfigSize).
type File struct {
	// Target is the absolute path in the container.
	Target string
	// Data is the file's content.
	Data []byte
	// Source is a path to the content, read by the deploy program when it renders the stack.
	Source string
	// Mode of the file (default 0444; scripts under /docker-entrypoint.d default to 0555).
	Mode uint32
}

// Mapfiles are mapfiles (*.map) and the small files they use, files of the deploy program in
// Dir: each is shipped to /etc/mapserver/<name> as a config, whose content swarmx.Render reads
// (through its Source) when it renders the stack. The default map is mapserver.map when
// present, otherwise the first *.map in name order. ReadDir lists a directory into one.
type Mapfiles struct {
	// Dir is the directory holding the files.
	Dir string
	// Names are the files' names in Dir, in order.
	Names []string
	// Err is why Dir could not be listed; New reports it as a problem of the config.
	Err error
}

// ReadDir lists the regular files of dir (the deploy program's) whose names are plain file
// names, in name order: the Mapfiles of Config. A listing error is kept in Mapfiles.Err.
func ReadDir(dir string) Mapfiles {
	m := Mapfiles{Dir: dir}
	entries, err := os.ReadDir(dir)
	m.Err = err
	for _, e := range entries {
		if e.Type().IsRegular() && fileNameRE.MatchString(e.Name()) {
			m.Names = append(m.Names, e.Name())
		}
	}
	return m
}

func (m Mapfiles) isZero() bool { return m.Dir == "" && m.Names == nil && m.Err == nil }

// Config describes a MapServer service. Common.Replicas tasks (default 1) serve the same maps;
// Common.Env never takes the database password (set Database).
type Config struct {
	builder.Common
	// Mapfiles are mapfiles and the files they use, given as files of the deploy program
	// (see ReadDir).
	Mapfiles Mapfiles
	// Maps are maps given as Go values, shipped as /etc/mapserver/<name>.map. When both are
	// set, the first of Maps is the default map.
	Maps []Map
	// Layers are further layer names the services must list to be ready (layers of typed
	// Maps are known already; list those of Mapfiles here).
	Layers []string
	// OGCAPI serves OGC API – Features for every map (Map.OGCAPI does it for one typed map):
	// at /ogcapi for the default map and /<map alias>/ogcapi for the others, each an
	// endpoint a gateway publishes under the same path. Mapfiles need their own oga_*
	// metadata (see Map.Render for what typed maps get).
	OGCAPI bool
	// Database is the PostGIS server the PostGIS layers read; the service mounts its
	// password secret and depends on it.
	Database *postgis.Server
	// Files are further files shipped as configs.
	Files []File
	// PublishedPort publishes port 80 on the nodes in host mode (0 = not published; the
	// gateway reaches the tasks over the overlay network). With host mode, one task per node.
	PublishedPort uint32
	// MinProcesses bounds the mapserv FastCGI processes per task from below (default 1, the
	// image's).
	MinProcesses int
	// MaxProcesses bounds the mapserv FastCGI processes per task from above (default 5, the
	// image's).
	MaxProcesses int
}

var (
	fileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// layerNameRE is what a layer name listed in Config.Layers may be: it is written into
	// the health check (a shell command) and matched in capabilities documents.
	layerNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$`)
)

// New builds the MapServer service. Configuration problems are recorded on the service
// (stack.Service.Problemf) and reported by Validate.
func New(cfg Config) *stack.Service {
	svc := builder.Base(cfg.Common, defaults)
	name := svc.Name
	// PGPASSWORD_FILE is a path (the image makes the password file from it), not a credential.
	pwFile, hasPWFile := svc.Env["PGPASSWORD_FILE"]
	builder.RefuseEnv(svc, "Database", "PGPASSWORD")
	if hasPWFile {
		svc.Env["PGPASSWORD_FILE"] = pwFile
	}
	if cfg.MinProcesses < 0 || cfg.MaxProcesses < 0 || (cfg.MaxProcesses > 0 && cfg.MinProcesses > cfg.MaxProcesses) {
		svc.Problemf("config.maxProcesses", "need 0 <= MinProcesses <= MaxProcesses (got %d, %d)", cfg.MinProcesses, cfg.MaxProcesses)
	}
	if cfg.MinProcesses > 0 {
		svc.Env["MIN_PROCESSES"] = strconv.Itoa(cfg.MinProcesses)
	}
	if cfg.MaxProcesses > 0 {
		svc.Env["MAX_PROCESSES"] = strconv.Itoa(cfg.MaxProcesses)
	}
	if cfg.PublishedPort > 0 {
		svc.Ports = []stack.Port{{Target: Port, Published: cfg.PublishedPort, Mode: stack.HostPort}}
	}

	dsn := ""
	if db := cfg.Database; db != nil {
		dsn = db.DSN()
		sec := db.PasswordSecret()
		svc.Secrets = append(svc.Secrets, stack.FileRef{Source: sec, Target: name + "-db-password", Mode: 0o400})
		svc.Env["PGPASSWORD_FILE"] = stack.SecretPath(name + "-db-password")
		svc.Env["PGPASS_HOST"] = db.Host()
		svc.Env["PGPASS_PORT"] = strconv.Itoa(db.Port())
		svc.Env["PGPASS_DATABASE"] = db.Database()
		svc.Env["PGPASS_USER"] = db.User()
		svc.DependsOn = append(svc.DependsOn, db.Name)
	}

	var maps []string // mapfile names, default first
	var apis []stack.Endpoint
	var layers, vector, raster []string
	targets := map[string]string{} // target -> config path, to catch collisions
	addConfig := func(p, cname, target string, data []byte, source string, mode uint32) {
		if prev, ok := targets[target]; ok {
			svc.Problemf(p, "%s is also shipped by %s", target, prev)
			return
		}
		targets[target] = p
		svc.Declares.Configs = append(svc.Declares.Configs, stack.Config{Name: cname, Data: data, File: source})
		svc.Configs = append(svc.Configs, stack.FileRef{Source: cname, Target: target, Mode: mode})
	}
	for i, m := range cfg.Maps {
		p := fmt.Sprintf("config.maps[%d]", i)
		probs := m.Problems(cfg.Database != nil)
		for _, pr := range probs {
			svc.Problemf(p+"."+pr[0], "%s", pr[1])
		}
		if len(probs) > 0 {
			continue
		}
		file := m.name() + ".map"
		if cfg.OGCAPI {
			m.OGCAPI = true
		}
		if m.OGCAPI {
			if len(maps) > 0 && MapAlias(file) == "DEFAULT" {
				svc.Problemf(p+".name", "%q: DEFAULT is the alias of the first map (served at /ogcapi); name this map otherwise", m.Name)
			}
			ep := ogcapiPath(file, len(maps) == 0)
			apis = append(apis, stack.Endpoint{Kind: stack.OGCAPIFeatures, Port: Port, Path: ep, Public: ep, Layers: m.FeatureLayers()})
		}
		maps = append(maps, file)
		addConfig(p, configName(name, "map", path.Join(MapDir, file)), path.Join(MapDir, file), []byte(m.Render(dsn)), "", 0o444)
		vector = append(vector, m.VectorLayers()...)
		raster = append(raster, m.RasterLayers()...)
	}
	if mf := cfg.Mapfiles; !mf.isZero() {
		if mf.Err != nil {
			svc.Problemf("config.mapfiles", "%v", mf.Err)
		}
		var dirMaps []string
		for i, n := range mf.Names {
			if !fileNameRE.MatchString(n) {
				svc.Problemf(fmt.Sprintf("config.mapfiles.names[%d]", i), "%q is not a plain file name", n)
				continue
			}
			if strings.HasSuffix(n, ".map") {
				dirMaps = append(dirMaps, n)
			}
			addConfig("config.mapfiles", configName(name, "file", path.Join(MapDir, n)),
				path.Join(MapDir, n), nil, filepath.Join(mf.Dir, n), 0o444)
		}
		sort.Strings(dirMaps)
		for i, f := range dirMaps {
			if f == "mapserver.map" {
				dirMaps[0], dirMaps[i] = dirMaps[i], dirMaps[0]
			}
		}
		if mf.Err == nil && len(dirMaps) == 0 {
			svc.Problemf("config.mapfiles", "no *.map file in %s", mf.Dir)
		}
		if cfg.OGCAPI && len(maps) == 0 && len(dirMaps) > 0 {
			apis = append(apis, stack.Endpoint{Kind: stack.OGCAPIFeatures, Port: Port, Path: OGCAPIPath, Public: OGCAPIPath})
		}
		maps = append(maps, dirMaps...)
	}
	if cfg.Mapfiles.isZero() && len(cfg.Maps) == 0 {
		svc.Problemf("config", "give Mapfiles (see ReadDir) or Maps (Go values)")
	}
	for i, f := range cfg.Files {
		p := fmt.Sprintf("config.files[%d]", i)
		if !path.IsAbs(f.Target) || path.Clean(f.Target) != f.Target {
			svc.Problemf(p+".target", "%q must be a clean absolute path", f.Target)
			continue
		}
		if (f.Data != nil) == (f.Source != "") {
			svc.Problemf(p, "exactly one of Data and Source must be set")
			continue
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o444
			if strings.HasPrefix(f.Target, "/docker-entrypoint.d/") {
				mode = 0o555
			}
		}
		addConfig(p, configName(name, "f"+strconv.Itoa(i), f.Target), f.Target, f.Data, f.Source, mode)
	}
	if len(maps) > 0 {
		addConfig("config", name+"-conf", ConfigFile, []byte(configFile(maps)), "", 0o444)
	}

	layers = append(append(layers, vector...), raster...)
	for i, l := range cfg.Layers {
		if !layerNameRE.MatchString(l) {
			svc.Problemf(fmt.Sprintf("config.layers[%d]", i), "%q is not a layer name (letters, digits, '_', '.', ':', '-', at most 128 characters)", l)
			continue
		}
		layers = append(layers, l)
	}
	svc.Endpoints = []stack.Endpoint{
		{Kind: stack.WMS, Port: Port, Path: "/wms", Public: "/wms", Layers: layers},
		{Kind: stack.WFS, Port: Port, Path: "/wfs", Public: "/wfs", Layers: vector},
		{Kind: stack.WCS, Port: Port, Path: "/wcs", Public: "/wcs", Layers: raster},
	}
	svc.Endpoints = append(svc.Endpoints, apis...)
	probe := ""
	if len(vector) > 0 {
		probe = vector[0]
	}
	// A task that dies is back within about 10 s: restarted after RestartDelay, and counted
	// running at its first passing check, one HealthInterval after it starts (Swarm 20.10
	// has no shorter start interval).
	// RestartDelay is shorter than stack's default.
	svc.Restart = &stack.RestartPolicy{Condition: "any", Delay: RestartDelay}
	svc.Health = &stack.Health{
		Test:        []string{"CMD-SHELL", HealthCommand(layers, probe)},
		Interval:    HealthInterval,
		Timeout:     10 * time.Second,
		Retries:     3,
		StartPeriod: 30 * time.Second,
	}
	return svc
}

// Recovery timings of a MapServer service: a killed task is restarted after RestartDelay
// and its health is checked every HealthInterval.
const (
	RestartDelay   = 2 * time.Second
	HealthInterval = 5 * time.Second
)

// configNameLen bounds the names configName makes: with the stack name and Swarm's version
// suffix they stay within Swarm's 64 characters.
const configNameLen = 36

// configName is the name of a config the service ships at target: a readable prefix (service,
// kind, file name; cut to fit) and a hash of the full target path, so two files whose names
// are cut or sanitised the same way still get different configs.
func configName(svc, kind, target string) string {
	sum := sha256.Sum256([]byte(target))
	suffix := "-" + hex.EncodeToString(sum[:])[:8]
	n := svc + "-" + kind + "-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, path.Base(target))
	if len(n) > configNameLen-len(suffix) {
		n = n[:configNameLen-len(suffix)]
	}
	return strings.TrimRight(n, "-_") + suffix
}

// HealthCommand is the shell health check: WMS GetCapabilities of the default map must
// answer and list every given layer; when dbLayer is set, a WFS hits query on it must count
// its features (so a task that cannot read PostGIS is not healthy). Every value is quoted for
// the shell (New also accepts only plain layer names).
func HealthCommand(layers []string, dbLayer string) string {
	var b strings.Builder
	b.WriteString(`c=$(curl -fsS --max-time 8 'http://127.0.0.1/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities') && echo "$c" | grep -q '<WMS_Capabilities'`)
	for _, l := range layers {
		fmt.Fprintf(&b, ` && echo "$c" | grep -qF %s`, shell.Quote("<Name>"+xmlText(l)+"</Name>"))
	}
	if dbLayer != "" {
		fmt.Fprintf(&b, ` && curl -fsS --max-time 8 %s | grep -q 'numberMatched="[0-9]'`,
			shell.Quote("http://127.0.0.1/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&RESULTTYPE=hits&TYPENAMES="+url.QueryEscape(dbLayer)))
	}
	return b.String()
}

// xmlText is s as it appears in an XML document's text.
func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// MapAlias is the name by which requests pick a mapfile (?map=ALIAS, /<alias>/ogcapi): its
// file name without .map, in upper case, '-' and '.' turned into '_' (quickstart.map:
// QUICKSTART).
func MapAlias(file string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(strings.TrimSuffix(path.Base(file), ".map")))
}

// ogcapiPath is where the image serves the OGC API – Features of a mapfile.
func ogcapiPath(file string, isDefault bool) string {
	if isDefault {
		return OGCAPIPath
	}
	return "/" + strings.ToLower(MapAlias(file)) + OGCAPIPath
}

// configFile is the MapServer 8 CONFIG file: the first map is the default, also aliased
// DEFAULT (the image serves its OGC API at /ogcapi); each map has an alias (MapAlias, e.g.
// ?map=QUICKSTART).
func configFile(maps []string) string {
	var b strings.Builder
	b.WriteString("# Generated by Kargo (services/mapserver).\nCONFIG\n  ENV\n")
	fmt.Fprintf(&b, "    MS_MAPFILE %s\n", q(path.Join(MapDir, maps[0])))
	fmt.Fprintf(&b, "    MS_MAP_PATTERN %s\n", q(MapPattern))
	fmt.Fprintf(&b, "    OGCAPI_HTML_TEMPLATE_DIRECTORY %s\n", q(OGCAPITemplates))
	b.WriteString("  END\n  MAPS\n")
	fmt.Fprintf(&b, "    \"DEFAULT\" %s\n", q(path.Join(MapDir, maps[0])))
	for _, m := range maps {
		alias := MapAlias(m)
		if alias == "DEFAULT" {
			continue
		}
		fmt.Fprintf(&b, "    %s %s\n", q(alias), q(path.Join(MapDir, m)))
	}
	b.WriteString("  END\nEND\n")
	return b.String()
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kalisio/kargo/examples/quickstart/qstack"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/mapcache"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
)

// Stack names and host ports no test uses.
const (
	qsStack     = "benchqs"   // the quickstart, for cold applies
	serveStack  = "bench"     // the serving stack: GetMap, tiles, seeding
	noopStack   = "benchnoop" // 20 services, for no-op re-applies
	bigStack    = "benchbig"  // 500 services, rendered and planned, never deployed
	qsHTTPPort  = 38090
	qsHTTPSPort = 38091
	gwPort      = 38080 // gateway of the serving stack
	directPort  = 38081 // a MapServer service published in host mode (FastCGI)
	cgiPort     = 38082 // the same image answering through plain CGI
	tilesPort   = 38083 // MapCache published in host mode
)

// readQuickstartData reads the quickstart's data files from the repository.
func readQuickstartData(repo string) (qstack.Data, error) {
	var d qstack.Data
	var err error
	dir := filepath.Join(repo, "examples", "quickstart", "data")
	if d.SQL, err = os.ReadFile(filepath.Join(dir, "quickstart.sql")); err != nil {
		return d, fmt.Errorf("quickstart data: %w", err)
	}
	if d.Elevation, err = os.ReadFile(filepath.Join(dir, "elevation.asc")); err != nil {
		return d, fmt.Errorf("quickstart data: %w", err)
	}
	return d, nil
}

// mapServer is the quickstart's MapServer under another name, with replicas, a host port
// (0: none) and extra files. The serving measures load WMS and tiles only: no OGC API.
func mapServer(d qstack.Data, db *postgis.Server, name string, replicas uint64, port uint32, files ...mapserver.File) *stack.Service {
	cfg := qstack.MapServerConfig(d, db)
	cfg.Name, cfg.Replicas, cfg.PublishedPort, cfg.OGCAPI = name, replicas, port, false
	cfg.Files = append(cfg.Files, files...)
	return mapserver.New(cfg)
}

// quickstartStack is examples/quickstart's stack under another name and other ports.
func quickstartStack(d qstack.Data) *stack.Stack {
	return qstack.Stack(d, qstack.Options{Name: qsStack, HTTPPort: qsHTTPPort, HTTPSPort: qsHTTPSPort})
}

// cgiSite is the image's Apache site with mod_cgid instead of mod_fcgid: every request starts
// a mapserv process.
const cgiSite = `Listen ${LISTEN_PORT}
ServerName localhost
<VirtualHost *:${LISTEN_PORT}>
    DocumentRoot /var/www/html
    ErrorLog /dev/stderr
    CustomLog /dev/null common
    SetEnv PGPASSFILE ${PGPASSFILE}
    SetEnv MAPSERVER_CONFIG_FILE ${MAPSERVER_CONFIG_FILE}
    ScriptAliasMatch "^/.*" /usr/lib/cgi-bin/mapserv
    <Directory /usr/lib/cgi-bin>
        Options +ExecCGI
        SetHandler cgi-script
        Require all granted
    </Directory>
    Header always set X-Served-By "${HOSTNAME}"
</VirtualHost>
`

// Static file route of the serving stack's gateway: the ceiling a cached tile is compared with.
const (
	staticPrefix = "/bench-static"
	staticDir    = "/srv/bench-static"
	staticFile   = "tile.png"
	// plainPrefix routes to MapCache's WMTS through a plain reverse_proxy (a fixed upstream,
	// no header rewriting): set beside the product's route, it tells the route's own cost
	// from the proxy hop's.
	plainPrefix = "/bench-plain"
)

// serveStack is the stack the serving measures load: the quickstart's PostGIS, MapServer
// (replicas as given) and MapCache behind a gateway, plus, for the baselines only, the same
// MapServer published on a host port (FastCGI, as the product runs it) and once more through
// plain CGI, MapCache published on a host port, and a static file route on the gateway
// holding a file of the size of a cached tile (static: its content; nil: no route yet).
func serveStackOf(d qstack.Data, replicas uint64, static []byte) (*stack.Stack, error) {
	db := postgis.New(qstack.DatabaseConfig(d))
	ms := mapServer(d, db, "mapserver", replicas, 0)
	direct := mapServer(d, db, "msdirect", 1, directPort)
	cgi := mapServer(d, db, "mscgi", 1, cgiPort,
		mapserver.File{Target: "/etc/apache2/sites-enabled/mapserver.conf", Data: []byte(cgiSite)},
		mapserver.File{Target: "/etc/apache2/mods-enabled/cgid.load", Data: []byte("LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so\n")},
		mapserver.File{Target: "/etc/apache2/mods-enabled/cgid.conf", Data: []byte("ScriptSock ${APACHE_RUN_DIR}/cgisock\n")},
	)
	tiles := mapcache.New(mapcache.Config{Common: builder.Common{Name: "tiles"}, Source: ms, Layers: qstack.TiledLayers,
		PublicURL: fmt.Sprintf("http://127.0.0.1:%d/", gwPort)})
	tiles.Service.Ports = append(tiles.Service.Ports, stack.Port{Target: mapcache.Port, Published: tilesPort, Mode: stack.HostPort})
	gw := gateway.New(gateway.Config{HTTPPort: gwPort, Routes: gateway.OGC(ms, tiles), AccessLog: true})
	if static != nil {
		if err := addBenchRoutes(gw, static); err != nil {
			return nil, err
		}
	}
	return stack.New(serveStack, db, ms, direct, cgi, tiles, gw), nil
}

// addBenchRoutes makes the gateway serve data at staticPrefix/staticFile with Caddy's
// file_server, and MapCache's WMTS at plainPrefix through a plain reverse_proxy, before its
// catch-all 404: an edit of the generated Caddyfile, for the bench stack only.
func addBenchRoutes(gw *stack.Service, data []byte) error {
	const fallback = "\thandle {\n\t\trespond \"kargo gateway: no route"
	for i := range gw.Declares.Configs {
		c := &gw.Declares.Configs[i]
		if !strings.HasSuffix(c.Name, "-caddyfile") {
			continue
		}
		s := string(c.Data)
		if !strings.Contains(s, fallback) {
			return fmt.Errorf("gateway Caddyfile: no catch-all route to put the static route before")
		}
		route := fmt.Sprintf("\thandle %s/* {\n\t\troot * /srv\n\t\tfile_server\n\t}\n", staticPrefix) +
			fmt.Sprintf("\thandle_path %s/* {\n\t\trewrite * %s/wmts{path}\n\t\treverse_proxy tiles:%d\n\t}\n", plainPrefix, mapcache.Alias, mapcache.Port)
		c.Data = []byte(strings.Replace(s, fallback, route+fallback, 1))
		gw.Configs = append(gw.Configs, stack.FileRef{Source: "bench-static", Target: staticDir + "/" + staticFile, Mode: 0o444})
		gw.Declares.Configs = append(gw.Declares.Configs, stack.Config{Name: "bench-static", Data: data})
		return nil
	}
	return fmt.Errorf("gateway has no Caddyfile config")
}

// noopStackOf is n small services shaped like a real stack (env, a port, a volume, a secret,
// a config, dependencies four levels deep), running a shell that sleeps: re-applying it
// unchanged measures Kargo's own cost.
func noopStackOf(n int) *stack.Stack {
	st := stack.New(noopStack)
	for i := 0; i < n; i++ {
		s := &stack.Service{Name: fmt.Sprintf("svc-%d", i), Image: "debian:bookworm-slim",
			Command:   []string{"sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"},
			Env:       map[string]string{"A": "1", "B": fmt.Sprint(i)},
			Mounts:    []stack.Mount{{Source: fmt.Sprintf("data-%d", i), Target: "/data"}},
			Secrets:   []stack.FileRef{{Source: fmt.Sprintf("pw-%d", i)}},
			Configs:   []stack.FileRef{{Source: fmt.Sprintf("conf-%d", i), Target: "/etc/app.conf"}},
			Resources: stack.Resources{CPULimit: 0.1, MemoryLimit: 16 * stack.MiB},
		}
		if i >= n/4 {
			s.DependsOn = []string{fmt.Sprintf("svc-%d", i-n/4)}
		}
		s.Declares.Secrets = []stack.Secret{{Name: fmt.Sprintf("pw-%d", i), Data: []byte("secret")}}
		s.Declares.Configs = []stack.Config{{Name: fmt.Sprintf("conf-%d", i), Data: []byte("key = value\n")}}
		s.Declares.Volumes = []stack.Volume{{Name: fmt.Sprintf("data-%d", i)}}
		st.Add(s)
	}
	return st
}

// bigStackOf is n services like swarmx's BenchmarkRender stack: env, a host port, a volume, a
// secret, a config, a health check and a dependency on the previous service.
func bigStackOf(name string, n int) *stack.Stack {
	st := stack.New(name)
	for i := 0; i < n; i++ {
		s := &stack.Service{Name: fmt.Sprintf("svc-%d", i), Image: "kargo/mapserver:8.0",
			Env:     map[string]string{"A": "1", "B": fmt.Sprint(i)},
			Ports:   []stack.Port{{Target: 80, Published: uint32(20000 + i)}},
			Mounts:  []stack.Mount{{Source: fmt.Sprintf("data-%d", i), Target: "/data"}},
			Secrets: []stack.FileRef{{Source: fmt.Sprintf("pw-%d", i)}},
			Configs: []stack.FileRef{{Source: fmt.Sprintf("conf-%d", i), Target: "/etc/app.conf"}},
			Health:  &stack.Health{Test: []string{"CMD", "true"}},
		}
		if i > 0 {
			s.DependsOn = []string{fmt.Sprintf("svc-%d", i-1)}
		}
		s.Declares.Secrets = []stack.Secret{{Name: fmt.Sprintf("pw-%d", i), Data: []byte("secret")}}
		s.Declares.Configs = []stack.Config{{Name: fmt.Sprintf("conf-%d", i), Data: []byte("key = value\n")}}
		st.Add(s)
	}
	return st
}

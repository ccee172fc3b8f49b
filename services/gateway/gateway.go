// Package gateway builds the single public entry of a stack: Caddy 2.6 routing path prefixes
// to the services behind it, over HTTP and HTTPS, with optional basic authentication, CORS and
// an access log.
//
// Caddy resolves tasks.<service> every 2 seconds and balances round-robin over the tasks it
// finds, retrying another task for up to 5 seconds when one fails. So the routed services run
// in dnsrr endpoint mode (Kargo's default) and the gateway needs no IPVS; rolling updates of a
// routed service lose no request. With Config.UpstreamHeader, responses carry X-Upstream,
// the task address that served them (off by default: it reveals internal addresses).
//
// With BasicAuth, the credentials never travel in clear: plain HTTP redirects to HTTPS (or is
// off, Config.HTTP), and the user and password hash (bcrypt, random salt) live in a Swarm
// secret the Caddyfile imports, not in the Caddyfile.
//
// The image is kargo/gateway:2.6 (Caddy from Debian, with the upstream caddy image's contract:
// /etc/caddy/Caddyfile, /data, /config). The builder generates the Caddyfile and ships it as a
// Swarm config.
//
// HTTPS: with a certificate given in Config.TLS, the certificate is a Swarm config and its
// private key a Swarm secret. Without one, Caddy's own local CA issues the certificates of
// TLS.Hosts (default 127.0.0.1 and localhost) when the gateway starts (Caddyfile "tls
// internal"); the builder itself generates and writes nothing. The CA and the certificates
// live in /data, a named volume (Config.DataVolume), so they survive task replacement and
// clients trust the CA once. A client gets the CA to trust from a running task:
//
//	docker exec $(docker ps -q -f label=com.docker.swarm.service.name=<stack>_gateway | head -n1) \
//	    cat /data/caddy/pki/authorities/local/root.crt > gateway-root.crt
//	curl --cacert gateway-root.crt https://127.0.0.1:8443/...
//
// (RootCAPath is that path.) Each node's volume holds its own CA: with replicas on several
// nodes, trust each node's CA, or give a certificate.
package gateway

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/stack"
)

// Paths of the image's contract and of the files the builder ships.
const (
	CaddyfilePath = "/etc/caddy/Caddyfile"
	CertPath      = "/etc/caddy/tls/cert.pem"
	// KeyPath is where the TLS private key (a secret) is mounted.
	KeyPath = "/run/secrets/gateway-key.pem"
	// DataDir is Caddy's data directory (XDG_DATA_HOME): its local CA and the certificates
	// it issued. The gateway's data volume is mounted there when Caddy issues certificates.
	DataDir = "/data"
	// RootCAPath is the root certificate of Caddy's local CA in a running gateway task: the
	// certificate clients trust when the gateway uses Caddy's own certificates.
	RootCAPath = DataDir + "/caddy/pki/authorities/local/root.crt"
	// MetricsPort serves Caddy's Prometheus metrics inside the stack's networks (never
	// published) when Config.Metrics is set.
	MetricsPort = 9180
	// HealthPath answers 200 without authentication; the health check uses it.
	HealthPath = "/healthz"
	httpPort   = 80
	httpsPort  = 443
)

// Route sends requests whose path starts with Prefix (a whole path segment: "/wms" matches
// /wms and /wms/..., not /wmsx) to a port of a service.
type Route struct {
	// Prefix of the public path, e.g. "/wms". "/" routes everything no other route takes.
	Prefix string
	// Service the requests go to, balanced over its tasks.
	Service *stack.Service
	// Port of the service.
	Port uint32
	// Path replaces the prefix on the way to the service (e.g. Prefix "/wmts" and Path
	// "/mapcache/wmts"). It may hold a query (e.g. "/?map=/etc/mapserver/roads.map"), which
	// is put before the request's own.
	Path string
	// StripPrefix removes the prefix on the way to the service (when Path is empty).
	StripPrefix bool
	// Files, when set, answers the requests it matches from files of a volume when the file
	// exists, and sends them to the service otherwise (mapcache.Cache gives its tiles this
	// way, through OGC).
	Files *Files
}

// FilesDir is where the gateway mounts the volumes of Route.Files, read-only: FilesDir/<volume>.
const FilesDir = "/srv/volumes"

// Files serves some requests of a route straight from files of a volume, the way a tile cache
// stores its tiles: a request whose path (after the route's prefix) matches Match is answered
// with the file Path of the volume when it exists (Caddy's file_server: ETag, Last-Modified,
// conditional requests answered 304, byte ranges), and goes to the route's service otherwise.
// The volume is the one of the gateway's node: where the service writing the files runs on
// another node, the files are not there and every request goes to the service.
type Files struct {
	// Volume holding the files, mounted read-only at FilesDir/<volume>.
	Volume string
	// Match is a regular expression (RE2) the whole rest of the path after the route's prefix
	// must match, e.g. "/([a-z]+)/([0-9]+)[.]png". No backslashes: write [.] for a dot and
	// [0-9] for a digit.
	Match string
	// Path is the file's path in the volume, starting with /, where $1 to $9 are the groups of
	// Match, e.g. "/$1/$2.png".
	Path string
	// MaxAge, when set, adds Cache-Control: public, max-age=<seconds> to the files' responses
	// (and to the service's answers for these paths that carry no Cache-Control).
	MaxAge time.Duration
	// Types are media types by file extension (".mvt"), for extensions the gateway image's
	// /etc/mime.types may not know; a response that has a Content-Type keeps it.
	Types map[string]string
}

// FileServer is a part (such as mapcache.Cache) some of whose public endpoints the gateway may
// answer from files: OGC sets Route.Files to what Files returns for the endpoint's public prefix
// (nil: none).
type FileServer interface {
	Files(prefix string) *Files
}

// OGC returns one route per endpoint of the given parts (services, or components such as
// mapcache's) that has a Public prefix: Public → the endpoint's port and path.
func OGC(parts ...stack.Part) []Route {
	var out []Route
	for _, p := range parts {
		if p == nil {
			continue
		}
		tmp := &stack.Stack{}
		p.AddTo(tmp)
		fs, _ := p.(FileServer)
		for _, svc := range tmp.Services {
			if svc == nil {
				continue
			}
			for _, ep := range svc.Endpoints {
				if ep.Public == "" {
					continue
				}
				r := Route{Prefix: ep.Public, Service: svc, Port: ep.Port, Path: ep.Path}
				if fs != nil {
					r.Files = fs.Files(ep.Public)
				}
				out = append(out, r)
			}
		}
	}
	return out
}

// DefaultHosts are the names Caddy's local CA issues certificates for when TLS.Hosts is empty.
var DefaultHosts = []string{"127.0.0.1", "localhost"}

// TLS gives the gateway's certificate. Either both CertFile and KeyFile (paths read when the
// stack is rendered), or both Cert and Key (PEM content); with neither, Caddy's local CA
// issues certificates for Hosts when the gateway starts (see the package documentation for
// how clients get the CA).
type TLS struct {
	CertFile, KeyFile string
	Cert, Key         []byte
	// Hosts are the DNS names and IP addresses Caddy's local CA issues certificates for
	// (default DefaultHosts: 127.0.0.1 and localhost). Clients must reach the gateway by one
	// of them: a name not listed gets no certificate. Not used with a given certificate.
	Hosts []string
	// ServerName is the name whose certificate is served to clients that send no SNI (such as
	// clients connecting to an IP address). Default: the given certificate's first DNS name,
	// or the first IP address of Hosts (else the first host).
	ServerName string
}

// BasicAuth protects every route (not /healthz, not CORS preflight requests when CORS is on)
// with one user. The password is hashed with bcrypt (random salt) by New and never stored in
// clear; the user and hash are a Swarm secret (mounted at AuthPath), so no config, rendered
// spec or compose file shows them. Kargo keeps that secret while user, password and realm stay
// the same (stack.Secret.Identity), so applying again changes nothing. It needs HTTPS: plain
// HTTP then redirects to it or is off (Config.HTTP).
type BasicAuth struct {
	User     string
	Password string
	// PasswordHash is a bcrypt hash to use instead of Password.
	PasswordHash string
	// Realm shown by browsers (default "restricted").
	Realm string
}

// CORS adds cross-origin headers to every response and answers preflight requests.
type CORS struct {
	// Origins allowed; empty means any origin ("*").
	Origins []string
	// Methods allowed (default GET, POST, OPTIONS); Headers allowed (default any).
	Methods []string
	Headers []string
}

// HTTPMode is what the gateway's HTTP port does.
type HTTPMode string

// HTTP modes.
const (
	// HTTPServe serves every route over HTTP, like HTTPS. Not allowed with BasicAuth.
	HTTPServe HTTPMode = "serve"
	// HTTPRedirect answers /healthz and redirects every other request to HTTPS (308, the
	// method kept).
	HTTPRedirect HTTPMode = "redirect"
	// HTTPOff publishes no HTTP port (the container keeps one on 127.0.0.1 for its health
	// check).
	HTTPOff HTTPMode = "off"
)

// defaults of the gateway service.
var defaults = builder.Defaults{
	Name:      "gateway",
	Image:     images.Ref("gateway"),
	Replicas:  1,
	Resources: stack.Resources{CPULimit: 1, MemoryLimit: 256 * stack.MiB, MemoryReservation: 32 * stack.MiB},
}

// Config describes the gateway.
//
// Common: Name defaults to "gateway"; Image to kargo/gateway:2.6; Replicas to 1 (with
// host-mode ports, at most one per node); Resources to 1 CPU and 256 MiB; Placement has no
// constraint by default (e.g. node.role==manager, or a node label for edge nodes).
type Config struct {
	builder.Common
	// HTTPPort is the node port serving HTTP (default 80). HTTPSPort is the node port serving
	// HTTPS; 0 means no HTTPS unless TLS is set (then 443). What HTTP does is set by HTTP.
	// Ports are published in host mode.
	HTTPPort  uint32
	HTTPSPort uint32
	// HTTP is what the HTTP port does: HTTPServe (the default without BasicAuth),
	// HTTPRedirect (the default with BasicAuth) or HTTPOff. Redirect and off need HTTPS.
	HTTP HTTPMode
	// Routes to the services behind the gateway, e.g. append(gateway.OGC(ms, tiles), ...).
	Routes []Route
	// TLS certificate; nil with HTTPSPort set means certificates from Caddy's local CA for
	// DefaultHosts.
	TLS *TLS
	// DataVolume holds Caddy's local CA and the certificates it issued (default
	// "<name>-data"); mounted at /data when no certificate is given.
	DataVolume string
	// BasicAuth, when set, requires credentials on every route.
	BasicAuth *BasicAuth
	// CORS, when set, adds cross-origin headers.
	CORS *CORS
	// AccessLog writes one JSON line per request to the service's stdout.
	AccessLog bool
	// UpstreamHeader adds X-Upstream, the address of the task that served the request, to
	// every response (for debugging: it reveals internal addresses).
	UpstreamHeader bool
	// Metrics serves Caddy's Prometheus metrics (requests, durations and response codes per
	// server) on MetricsPort, for a Prometheus of the stack (services/monitoring).
	Metrics bool
}

var prefixRE = regexp.MustCompile(`^/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?$`)

// New builds the gateway service. Problems (a route without a service, two routes with the
// same prefix, half-given TLS or credentials) are recorded on the service and reported by the
// stack's Validate with their path.
func New(cfg Config) *stack.Service {
	svc := builder.Base(cfg.Common, defaults)
	cfg.Name, cfg.Replicas = svc.Name, *svc.Replicas
	if cfg.HTTPPort == 0 {
		cfg.HTTPPort = httpPort
	}
	if cfg.HTTPSPort == 0 && cfg.TLS != nil {
		cfg.HTTPSPort = httpsPort
	}
	if cfg.HTTP == "" {
		cfg.HTTP = HTTPServe
		if cfg.BasicAuth != nil {
			cfg.HTTP = HTTPRedirect
		}
	}
	svc.Health = &stack.Health{
		Test:        []string{"CMD", "curl", "-fsS", "-o", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, HealthPath)},
		Interval:    5 * time.Second,
		Timeout:     3 * time.Second,
		StartPeriod: 5 * time.Second,
		Retries:     3,
	}
	svc.Endpoints = []stack.Endpoint{{Kind: stack.HTTP, Port: httpPort, Path: HealthPath}}
	if cfg.Replicas > 1 && svc.Placement.MaxReplicasPerNode == 0 {
		svc.Placement.MaxReplicasPerNode = 1
	}
	switch cfg.HTTP {
	case HTTPServe:
		if cfg.BasicAuth != nil {
			svc.Problemf("config.http", "%q would send basic-auth credentials in clear: use %q or %q (with HTTPS)", cfg.HTTP, HTTPRedirect, HTTPOff)
		}
	case HTTPRedirect, HTTPOff:
		if cfg.HTTPSPort == 0 {
			what := fmt.Sprintf("%q", cfg.HTTP)
			if cfg.BasicAuth != nil {
				what = "basic auth (credentials must not travel in clear)"
			}
			svc.Problemf("config.http", "%s needs HTTPS: set httpsPort or tls", what)
		}
	default:
		svc.Problemf("config.http", "%q is not %q, %q or %q", cfg.HTTP, HTTPServe, HTTPRedirect, HTTPOff)
	}
	if cfg.HTTP != HTTPOff {
		svc.Ports = append(svc.Ports, stack.Port{Target: httpPort, Published: cfg.HTTPPort, Mode: stack.HostPort})
	}

	routes := checkRoutes(svc, cfg.Routes)
	mounted := map[string]bool{}
	for _, r := range routes {
		if r.Files != nil && !mounted[r.Files.Volume] {
			mounted[r.Files.Volume] = true
			svc.Mounts = append(svc.Mounts, stack.Mount{Type: stack.VolumeMount, Source: r.Files.Volume, Target: FilesDir + "/" + r.Files.Volume, ReadOnly: true})
		}
	}
	if cfg.BasicAuth == nil && cfg.HTTP == HTTPServe {
		// Readiness probes go through the published HTTP port.
		svc.Endpoints = append(svc.Endpoints, publicEndpoints(cfg.Routes)...)
	}
	deps := map[string]bool{}
	for _, r := range cfg.Routes {
		if r.Service != nil && r.Service.Name != "" && r.Service.Name != cfg.Name && !deps[r.Service.Name] {
			deps[r.Service.Name] = true
			svc.DependsOn = append(svc.DependsOn, r.Service.Name)
		}
	}

	var tlsOn *tlsSetup
	if cfg.HTTPSPort != 0 {
		svc.Ports = append(svc.Ports, stack.Port{Target: httpsPort, Published: cfg.HTTPSPort, Mode: stack.HostPort})
		t := tlsFiles(svc, cfg)
		tlsOn = &t
	}

	auth := false
	if a := cfg.BasicAuth; a != nil {
		if sec, ok := basicAuth(svc, cfg.Name+"-basicauth", a); ok {
			auth = true
			svc.Declares.Secrets = append(svc.Declares.Secrets, sec)
			svc.Secrets = append(svc.Secrets, stack.FileRef{Source: sec.Name, Target: AuthPath, Mode: 0o400})
		}
	}
	if c := cfg.CORS; c != nil {
		for i, o := range c.Origins {
			if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "" || u.Path != "") {
				svc.Problemf(fmt.Sprintf("config.cors.origins[%d]", i), "%q is not an origin such as https://example.org", o)
			}
		}
	}

	in := caddyInput{
		Routes: routes, TLS: tlsOn, Auth: auth, CORS: cfg.CORS, AccessLog: cfg.AccessLog,
		HTTP: cfg.HTTP, RedirectPort: cfg.HTTPSPort, UpstreamHeader: cfg.UpstreamHeader,
		Metrics: cfg.Metrics,
	}
	caddyfile := stack.Config{Name: cfg.Name + "-caddyfile"}
	if tlsOn != nil && tlsOn.NameFrom != "" {
		// The certificate given by path names the default SNI host: the Caddyfile is made when
		// the stack is rendered, from the certificate Render reads.
		caddyfile.Derive = &stack.Derivation{From: tlsOn.NameFrom, Make: func(certPEM []byte) ([]byte, error) {
			t := *in.TLS
			t.ServerName = cmp.Or(firstDNSName(certPEM), "localhost")
			in := in
			in.TLS = &t
			return Caddyfile(in), nil
		}}
	} else {
		caddyfile.Data = Caddyfile(in)
	}
	svc.Configs = append(svc.Configs, stack.FileRef{Source: caddyfile.Name, Target: CaddyfilePath})
	svc.Declares.Configs = append(svc.Declares.Configs, caddyfile)
	return svc
}

// breaksCaddyToken reports whether r would end or change a Caddyfile token: any Unicode
// space (the Caddyfile splits on them, \v, \f and U+2028 included), a control character,
// braces, quotes (", `), a backslash or '#' (a comment).
func breaksCaddyToken(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("{}\"`\\#", r)
}

// checkRoutes validates the routes and returns them ordered for Caddy: longer prefixes first,
// "/" last.
func checkRoutes(svc *stack.Service, routes []Route) []Route {
	seen := map[string]int{}
	var ok []Route
	for i, r := range routes {
		p := fmt.Sprintf("config.routes[%d]", i)
		bad := false
		if !prefixRE.MatchString(r.Prefix) {
			svc.Problemf(p+".prefix", "%q must be \"/\" or a path such as /wms (letters, digits, '.', '_', '~', '-'), without a trailing slash", r.Prefix)
			bad = true
		} else if j, dup := seen[r.Prefix]; dup {
			svc.Problemf(p+".prefix", "%q clashes with config.routes[%d]", r.Prefix, j)
			bad = true
		} else {
			seen[r.Prefix] = i
		}
		if r.Service == nil || r.Service.Name == "" {
			svc.Problemf(p+".service", "is required")
			bad = true
		}
		if r.Port == 0 || r.Port > 65535 {
			svc.Problemf(p+".port", "must be between 1 and 65535, got %d", r.Port)
			bad = true
		}
		if r.Path != "" && (!strings.HasPrefix(r.Path, "/") || strings.IndexFunc(r.Path, breaksCaddyToken) >= 0 || !utf8.ValidString(r.Path)) {
			svc.Problemf(p+".path", "%q must start with / and hold no spaces, control characters, braces, quotes, backslashes or '#'", r.Path)
			bad = true
		}
		if r.Path != "" && r.StripPrefix {
			svc.Problemf(p+".stripPrefix", "cannot be set with path (path already replaces the prefix)")
			bad = true
		}
		if r.Files != nil && !checkFiles(svc, p+".files", r.Files) {
			bad = true
		}
		if !bad {
			ok = append(ok, r)
		}
	}
	sort.SliceStable(ok, func(i, j int) bool {
		a, b := ok[i].Prefix, ok[j].Prefix
		if (a == "/") != (b == "/") {
			return b == "/"
		}
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})
	return ok
}

var (
	volumeRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	fileRefRE  = regexp.MustCompile(`\$([0-9])`)
	fileExtRE  = regexp.MustCompile(`^[.][A-Za-z0-9]+$`)
	mediaTypRE = regexp.MustCompile(`^[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+$`)
)

// checkFiles validates a route's Files and reports whether it is usable.
func checkFiles(svc *stack.Service, p string, f *Files) bool {
	ok := true
	if !volumeRE.MatchString(f.Volume) {
		svc.Problemf(p+".volume", "%q is not a volume name", f.Volume)
		ok = false
	}
	groups := -1
	if f.Match == "" || strings.IndexFunc(f.Match, breaksCaddyToken) >= 0 || !utf8.ValidString(f.Match) {
		svc.Problemf(p+".match", "%q must be a regular expression without spaces, control characters, braces, quotes, backslashes or '#'", f.Match)
		ok = false
	} else if re, err := regexp.Compile(f.Match); err != nil {
		svc.Problemf(p+".match", "%q: %v", f.Match, err)
		ok = false
	} else {
		groups = re.NumSubexp()
	}
	if !strings.HasPrefix(f.Path, "/") || strings.IndexFunc(f.Path, breaksCaddyToken) >= 0 || !utf8.ValidString(f.Path) {
		svc.Problemf(p+".path", "%q must start with / and hold no spaces, control characters, braces, quotes, backslashes or '#'", f.Path)
		ok = false
	} else if groups >= 0 {
		for _, m := range fileRefRE.FindAllStringSubmatch(f.Path, -1) {
			if n := int(m[1][0] - '0'); n < 1 || n > groups {
				svc.Problemf(p+".path", "%q refers to $%d, but match has %d group(s)", f.Path, n, groups)
				ok = false
			}
		}
	}
	if f.MaxAge < 0 {
		svc.Problemf(p+".maxAge", "must not be negative, got %v", f.MaxAge)
		ok = false
	}
	for ext, typ := range f.Types {
		if !fileExtRE.MatchString(ext) || !mediaTypRE.MatchString(typ) {
			svc.Problemf(p+".types", "%q: %q is not an extension (.mvt) and a media type", ext, typ)
			ok = false
		}
	}
	return ok
}

// publicEndpoints lists the OGC endpoints the routes make public, as endpoints of the
// gateway itself: a readiness probe of the gateway (ogc.Ready) then asks each one's
// GetCapabilities (OGC API: collections; XYZ: a tile) through the gateway and checks its
// layers, end to end.
func publicEndpoints(routes []Route) []stack.Endpoint {
	var out []stack.Endpoint
	for _, r := range routes {
		if r.Service == nil {
			continue
		}
		for _, ep := range r.Service.Endpoints {
			switch ep.Kind {
			case stack.WMS, stack.WFS, stack.WCS, stack.WMTS, stack.OGCAPIFeatures, stack.XYZ:
			default:
				continue
			}
			if ep.Public == r.Prefix && ep.Port == r.Port {
				out = append(out, stack.Endpoint{Kind: ep.Kind, Port: httpPort, Path: r.Prefix, Layers: ep.Layers})
			}
		}
	}
	return out
}

// Package geoserver builds a GeoServer service from the official image
// docker.osgeo.org/geoserver (geoserver/docker: Dockerfile, startup.sh,
// handle_geoserver_admin_credentials.sh, install-extensions.sh; UPSTREAM.md §5).
//
// Contract followed (image 2.28.x, the first series with every feature relied on here: the
// HEALTHCHECK of 2023-12, WEBAPP_CONTEXT of 2024-01, GEOSERVER_ADMIN_USER/PASSWORD of 2024-05
// and GEOSERVER_ADMIN_PASSWORD_FILE of 2025-10): Tomcat on 8080, webapp at /<WEBAPP_CONTEXT>
// (default geoserver), data directory /opt/geoserver_data/, admin credentials applied to the
// data directory at every start, INSTALL_EXTENSIONS + STABLE_EXTENSIONS / COMMUNITY_EXTENSIONS
// (names [a-z0-9_-], downloaded at start, so they need outbound network), CORS_* knobs,
// SKIP_DEMO_DATA, EXTRA_JAVA_OPTS (image default -Xms256m -Xmx1g), health check curling the
// GeoServer logo every 1m, 20s timeout, 3 retries.
//
// The admin password is a Docker secret read through GEOSERVER_ADMIN_PASSWORD_FILE (generated
// when not given), never an env value: GEOSERVER_ADMIN_PASSWORD* in Config.Env is refused (the
// image would let a plain GEOSERVER_ADMIN_PASSWORD win over the file). The admin user name is
// not a secret and stays a plain GEOSERVER_ADMIN_USER set from Config.AdminUser. The image runs
// as root by default, so the secret file keeps Swarm's default 0400 root ownership.
package geoserver

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/stack"
)

// Image contract constants.
const (
	// Port is Tomcat's connector port (EXPOSE 8080).
	Port = 8080
	// DataDir is GEOSERVER_DATA_DIR.
	DataDir = "/opt/geoserver_data"
	// DefaultContext is WEBAPP_CONTEXT's default.
	DefaultContext = "geoserver"
	// DefaultAdminUser is the image's admin user name.
	DefaultAdminUser = "admin"
	// LogoPath is the resource the image's health check fetches, under the context.
	LogoPath = "/web/wicket/resource/org.geoserver.web.GeoServerBasePage/img/logo.png"
)

// defaults of a GeoServer service. GeoServer is a JVM; 2 GiB gives a 1.5 GiB heap.
var defaults = builder.Defaults{
	Name:  "geoserver",
	Image: "docker.osgeo.org/geoserver:2.28.2",
	Resources: stack.Resources{
		CPULimit: 2, MemoryLimit: 2 * stack.GiB,
		CPUReservation: 0.5, MemoryReservation: 1 * stack.GiB,
	},
}

// Config describes a GeoServer service.
//
// Common: Name defaults to "geoserver"; Image to docker.osgeo.org/geoserver:2.28.2 (an older
// tag may lack the *_FILE and health features); Replicas to 1. Replicas share nothing but
// the volume name: on several nodes each gets its own data directory unless Volume uses a
// shared driver.
type Config struct {
	builder.Common
	// Volume is the named volume mounted at /opt/geoserver_data; default "<name>-data".
	Volume string
	// AdminUser is GEOSERVER_ADMIN_USER; default "admin".
	AdminUser string
	// AdminPassword is the admin password secret; default a generated 24-character secret
	// named "<name>-admin-password".
	AdminPassword stack.Secret
	// Extensions are STABLE_EXTENSIONS (e.g. "wps", "ysld"), CommunityExtensions
	// COMMUNITY_EXTENSIONS; either sets INSTALL_EXTENSIONS=true.
	Extensions []string
	// CommunityExtensions are COMMUNITY_EXTENSIONS, the community modules to install.
	CommunityExtensions []string
	// CORS enables the Tomcat CORS filter (CORS_ENABLED=true) when not nil.
	CORS *CORS
	// DemoData keeps the image's demo data in a new data directory (SKIP_DEMO_DATA=false).
	DemoData bool
	// Context is WEBAPP_CONTEXT, one path segment; default "geoserver". (The image can also
	// serve at the root with an empty WEBAPP_CONTEXT; this builder always sets a context.)
	Context string
	// RootRedirect sets ROOT_WEBAPP_REDIRECT=true (301 from / to /<context>/web/).
	RootRedirect bool
	// JavaOpts are added to EXTRA_JAVA_OPTS after the heap flags derived from the memory
	// limit (-Xms256m -Xmx<75% of the limit>).
	JavaOpts []string
	// PublicPrefix is where a gateway exposes GeoServer; default "/<context>", so the URLs
	// GeoServer writes in its capabilities stay valid behind the gateway.
	PublicPrefix string
	// PublishedPort publishes 8080 on that node port (host mode); 0 keeps it internal.
	PublishedPort uint32
}

// CORS configures the image's CORS filter. Empty fields keep the image's defaults.
type CORS struct {
	AllowedOrigins   string // CORS_ALLOWED_ORIGINS, default "*"
	AllowedMethods   string // CORS_ALLOWED_METHODS, default GET,POST,PUT,DELETE,HEAD,OPTIONS
	AllowedHeaders   string // CORS_ALLOWED_HEADERS
	AllowCredentials bool   // CORS_ALLOW_CREDENTIALS, honoured only with explicit origins
}

var (
	extensionRE = regexp.MustCompile(`^[a-z0-9_-]+$`)
	contextRE   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// New builds the GeoServer service. Problems are recorded on the service and reported by
// Validate.
func New(cfg Config) *stack.Service {
	svc := builder.Base(cfg.Common, defaults)
	// A plain GEOSERVER_ADMIN_PASSWORD would put the password in the service spec and win
	// over the builder's GEOSERVER_ADMIN_PASSWORD_FILE.
	builder.RefuseEnv(svc, "AdminPassword", "GEOSERVER_ADMIN_PASSWORD")
	name := svc.Name
	vol := cmp.Or(cfg.Volume, name+"-data")
	ctx := strings.Trim(cmp.Or(cfg.Context, DefaultContext), "/")
	svc.Mounts = []stack.Mount{{Type: stack.VolumeMount, Source: vol, Target: DataDir}}
	svc.Declares.Volumes = []stack.Volume{{Name: vol}}
	// Tomcat needs time to stop cleanly.
	svc.StopGracePeriod = 30 * time.Second
	env := svc.Env
	if !contextRE.MatchString(ctx) {
		svc.Problemf("config.context", "%q is not a single path segment", cfg.Context)
	}
	env["WEBAPP_CONTEXT"] = ctx
	env["SKIP_DEMO_DATA"] = fmt.Sprint(!cfg.DemoData)
	if cfg.RootRedirect {
		env["ROOT_WEBAPP_REDIRECT"] = "true"
	}

	// Admin credentials.
	pwFile := builder.DeclareSecret(svc, builder.Secret(&cfg.AdminPassword, name+"-admin-password", 24))
	env["GEOSERVER_ADMIN_USER"] = cmp.Or(cfg.AdminUser, DefaultAdminUser)
	env["GEOSERVER_ADMIN_PASSWORD_FILE"] = pwFile

	// Extensions.
	check := func(field string, names []string) {
		for i, n := range names {
			if !extensionRE.MatchString(n) {
				svc.Problemf(fmt.Sprintf("config.%s[%d]", field, i), "%q is not an extension name ([a-z0-9_-], e.g. \"wps\")", n)
			}
		}
	}
	check("extensions", cfg.Extensions)
	check("communityExtensions", cfg.CommunityExtensions)
	if len(cfg.Extensions) > 0 || len(cfg.CommunityExtensions) > 0 {
		env["INSTALL_EXTENSIONS"] = "true"
		if len(cfg.Extensions) > 0 {
			env["STABLE_EXTENSIONS"] = strings.Join(cfg.Extensions, ",")
		}
		if len(cfg.CommunityExtensions) > 0 {
			env["COMMUNITY_EXTENSIONS"] = strings.Join(cfg.CommunityExtensions, ",")
		}
	}

	if c := cfg.CORS; c != nil {
		env["CORS_ENABLED"] = "true"
		set := func(k, v string) {
			if v != "" {
				env[k] = v
			}
		}
		set("CORS_ALLOWED_ORIGINS", c.AllowedOrigins)
		set("CORS_ALLOWED_METHODS", c.AllowedMethods)
		set("CORS_ALLOWED_HEADERS", c.AllowedHeaders)
		if c.AllowCredentials {
			if c.AllowedOrigins == "" || c.AllowedOrigins == "*" {
				svc.Problemf("config.cors.allowCredentials", "needs explicit allowed origins (the image ignores it with \"*\")")
			}
			env["CORS_ALLOW_CREDENTIALS"] = "true"
		}
	}

	if opts := JavaOpts(svc.Resources.MemoryLimit, cfg.JavaOpts); opts != "" {
		env["EXTRA_JAVA_OPTS"] = opts
	}

	if cfg.PublishedPort > 0 {
		svc.Ports = []stack.Port{{Target: Port, Published: cfg.PublishedPort}}
	}

	base := "/" + ctx
	svc.Health = &stack.Health{
		Test:     []string{"CMD", "curl", "--fail", "--url", fmt.Sprintf("http://localhost:%d%s%s", Port, base, LogoPath)},
		Interval: time.Minute, Timeout: 20 * time.Second, Retries: 3,
		// Not in the image: GeoServer takes a while to start, longer with extensions to fetch.
		StartPeriod: 2 * time.Minute,
	}

	public := strings.TrimRight(cmp.Or(cfg.PublicPrefix, base), "/")
	if cfg.PublicPrefix != "" && !strings.HasPrefix(cfg.PublicPrefix, "/") {
		svc.Problemf("config.publicPrefix", "must start with /, got %q", cfg.PublicPrefix)
	}
	for _, e := range []struct {
		kind stack.EndpointKind
		path string
	}{
		{stack.WMS, "/wms"}, {stack.WFS, "/wfs"}, {stack.WCS, "/wcs"}, {stack.WMTS, "/gwc/service/wmts"},
	} {
		svc.Endpoints = append(svc.Endpoints, stack.Endpoint{Kind: e.kind, Port: Port, Path: base + e.path, Public: public + e.path})
	}
	return svc
}

// JavaOpts returns EXTRA_JAVA_OPTS for a memory limit: -Xms256m and -Xmx at 75% of the limit
// (leaving room for metaspace, threads and native buffers), then extra. Without a limit and
// without extra it returns "" (the image default -Xms256m -Xmx1g applies).
func JavaOpts(memoryLimit int64, extra []string) string {
	var opts []string
	if memoryLimit > 0 {
		xmx := memoryLimit * 3 / 4 / stack.MiB
		xms := int64(256)
		if xms > xmx {
			xms = xmx
		}
		opts = append(opts, fmt.Sprintf("-Xms%dm", xms), fmt.Sprintf("-Xmx%dm", xmx))
	}
	opts = append(opts, extra...)
	return strings.Join(opts, " ")
}

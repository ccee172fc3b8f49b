package geoserver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/geoserver"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func render(t *testing.T, svc *stack.Service) (*swarmx.Desired, swarmx.Service) {
	t.Helper()
	d, err := swarmx.Render(stack.New("t", svc), swarmx.Source{})
	require.NoError(t, err)
	s, ok := d.Service(svc.Name)
	require.True(t, ok)
	return d, s
}

func TestDefaults(t *testing.T) {
	d, svc := render(t, geoserver.New(geoserver.Config{}))
	cs := svc.Spec.TaskTemplate.ContainerSpec
	assert.Equal(t, "docker.osgeo.org/geoserver:2.28.2", cs.Image)
	assert.Nil(t, cs.Command)
	assert.Nil(t, cs.Args, "the image's startup.sh runs as is")

	env := svc.Env()
	assert.Equal(t, "geoserver", env["WEBAPP_CONTEXT"])
	assert.Equal(t, "true", env["SKIP_DEMO_DATA"])
	assert.Equal(t, "admin", env["GEOSERVER_ADMIN_USER"])
	assert.Equal(t, "/run/secrets/geoserver-admin-password", env["GEOSERVER_ADMIN_PASSWORD_FILE"])
	assert.NotContains(t, env, "GEOSERVER_ADMIN_PASSWORD")
	assert.Equal(t, "-Xms256m -Xmx1536m", env["EXTRA_JAVA_OPTS"], "75% of the 2 GiB default limit")
	assert.NotContains(t, env, "INSTALL_EXTENSIONS")
	assert.NotContains(t, env, "CORS_ENABLED")

	require.Len(t, cs.Secrets, 1)
	assert.Equal(t, "geoserver-admin-password", cs.Secrets[0].File.Name)
	require.Len(t, d.Secrets, 1)
	assert.Equal(t, 24, d.Secrets[0].Generate)

	require.Len(t, cs.Mounts, 1)
	assert.Equal(t, "/opt/geoserver_data", cs.Mounts[0].Target)
	assert.Equal(t, "t_geoserver-data", cs.Mounts[0].Source)

	hc := cs.Healthcheck
	assert.Equal(t, []string{"CMD", "curl", "--fail", "--url",
		"http://localhost:8080/geoserver/web/wicket/resource/org.geoserver.web.GeoServerBasePage/img/logo.png"}, hc.Test)
	assert.Equal(t, time.Minute, hc.Interval)
	assert.Equal(t, 20*time.Second, hc.Timeout)
	assert.Equal(t, 3, hc.Retries)

	assert.Empty(t, svc.Spec.EndpointSpec.Ports)
	assert.Equal(t, "dnsrr", string(svc.Spec.EndpointSpec.Mode))
	res := svc.Spec.TaskTemplate.Resources
	assert.Equal(t, 2*stack.GiB, res.Limits.MemoryBytes)
	assert.Equal(t, stack.GiB, res.Reservations.MemoryBytes)

	want := []stack.Endpoint{
		{Kind: stack.WMS, Port: 8080, Path: "/geoserver/wms", Public: "/geoserver/wms"},
		{Kind: stack.WFS, Port: 8080, Path: "/geoserver/wfs", Public: "/geoserver/wfs"},
		{Kind: stack.WCS, Port: 8080, Path: "/geoserver/wcs", Public: "/geoserver/wcs"},
		{Kind: stack.WMTS, Port: 8080, Path: "/geoserver/gwc/service/wmts", Public: "/geoserver/gwc/service/wmts"},
	}
	assert.Equal(t, want, svc.Endpoints)
}

func TestOptions(t *testing.T) {
	_, svc := render(t, geoserver.New(geoserver.Config{
		Common: builder.Common{
			Name:      "gs",
			Resources: stack.Resources{MemoryLimit: 4 * stack.GiB},
			Placement: stack.Placement{Constraints: []string{"node.labels.geoserver==true"}},
		},
		Context: "ows", PublicPrefix: "/maps", Extensions: []string{"wps", "ysld"}, CommunityExtensions: []string{"cog-s3"},
		CORS:          &geoserver.CORS{AllowedOrigins: "https://app.example.org", AllowCredentials: true},
		JavaOpts:      []string{"-XX:+UseG1GC"},
		AdminPassword: stack.Secret{Name: "gs-pw", Data: []byte("pw")}, PublishedPort: 8600, DemoData: true, RootRedirect: true,
	}))
	env := svc.Env()
	assert.Equal(t, "ows", env["WEBAPP_CONTEXT"])
	assert.Equal(t, "false", env["SKIP_DEMO_DATA"])
	assert.Equal(t, "true", env["ROOT_WEBAPP_REDIRECT"])
	assert.Equal(t, "true", env["INSTALL_EXTENSIONS"])
	assert.Equal(t, "wps,ysld", env["STABLE_EXTENSIONS"])
	assert.Equal(t, "cog-s3", env["COMMUNITY_EXTENSIONS"])
	assert.Equal(t, "true", env["CORS_ENABLED"])
	assert.Equal(t, "https://app.example.org", env["CORS_ALLOWED_ORIGINS"])
	assert.Equal(t, "true", env["CORS_ALLOW_CREDENTIALS"])
	assert.NotContains(t, env, "CORS_ALLOWED_METHODS", "image default kept")
	assert.Equal(t, "-Xms256m -Xmx3072m -XX:+UseG1GC", env["EXTRA_JAVA_OPTS"])
	assert.Equal(t, "/run/secrets/gs-pw", env["GEOSERVER_ADMIN_PASSWORD_FILE"])
	for _, kv := range svc.Spec.TaskTemplate.ContainerSpec.Env {
		assert.NotEqual(t, "GEOSERVER_ADMIN_PASSWORD=pw", kv)
	}
	require.Len(t, svc.Spec.EndpointSpec.Ports, 1)
	assert.Equal(t, uint32(8600), svc.Spec.EndpointSpec.Ports[0].PublishedPort)
	assert.Equal(t, uint32(8080), svc.Spec.EndpointSpec.Ports[0].TargetPort)
	assert.Equal(t, "host", string(svc.Spec.EndpointSpec.Ports[0].PublishMode))
	assert.Contains(t, svc.Spec.TaskTemplate.ContainerSpec.Healthcheck.Test[4], "http://localhost:8080/ows/web/")
	assert.Equal(t, "/ows/wms", svc.Endpoints[0].Path)
	assert.Equal(t, "/maps/wms", svc.Endpoints[0].Public)
	assert.Equal(t, "/maps/gwc/service/wmts", svc.Endpoints[3].Public)
	assert.Equal(t, []string{"node.labels.geoserver==true"}, svc.Spec.TaskTemplate.Placement.Constraints)
}

func TestProblems(t *testing.T) {
	svc := geoserver.New(geoserver.Config{
		Extensions: []string{"wps", "Bad Name"}, CommunityExtensions: []string{"ok", "x;rm"},
		CORS: &geoserver.CORS{AllowCredentials: true}, Context: "a/b", PublicPrefix: "maps",
	})
	err := stack.New("t", svc).Validate()
	require.Error(t, err)
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	for _, p := range []string{
		"services[geoserver].config.extensions[1]",
		"services[geoserver].config.communityExtensions[1]",
		"services[geoserver].config.cors.allowCredentials",
		"services[geoserver].config.context",
		"services[geoserver].config.publicPrefix",
	} {
		assert.True(t, ve.Has(p), "missing %s in\n%s", p, err)
	}
	assert.False(t, ve.Has("services[geoserver].config.extensions[0]"))
}

// The admin password is a secret: a plain GEOSERVER_ADMIN_PASSWORD in Env would reach the
// service spec and win over the secret file, so it is refused like every builder's
// credentials. The admin user name is not a secret and stays a plain variable.
func TestAdminPasswordInEnvRefused(t *testing.T) {
	svc := geoserver.New(geoserver.Config{Common: builder.Common{Name: "gs", Env: map[string]string{
		"GEOSERVER_ADMIN_PASSWORD":      "s3cr3t",
		"GEOSERVER_ADMIN_PASSWORD_FILE": "/tmp/pw",
		"TZ":                            "UTC",
	}}})
	assert.NotContains(t, svc.Env, "GEOSERVER_ADMIN_PASSWORD", "the password never reaches the spec")
	assert.Equal(t, "/run/secrets/gs-admin-password", svc.Env["GEOSERVER_ADMIN_PASSWORD_FILE"], "the builder's file wins")
	assert.Equal(t, "UTC", svc.Env["TZ"])
	assert.Equal(t, "admin", svc.Env["GEOSERVER_ADMIN_USER"])
	err := stack.New("maps", svc).Validate()
	require.Error(t, err)
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "maps", ve.Stack)
	assert.True(t, ve.Has("services[gs].config.env.GEOSERVER_ADMIN_PASSWORD"), err.Error())
	assert.True(t, ve.Has("services[gs].config.env.GEOSERVER_ADMIN_PASSWORD_FILE"), err.Error())
	assert.Contains(t, err.Error(), "Config.AdminPassword")
	assert.NotContains(t, err.Error(), "s3cr3t")
}

func TestJavaOpts(t *testing.T) {
	assert.Equal(t, "", geoserver.JavaOpts(0, nil))
	assert.Equal(t, "-Xms256m -Xmx768m", geoserver.JavaOpts(stack.GiB, nil))
	assert.Equal(t, "-Xms192m -Xmx192m", geoserver.JavaOpts(256*stack.MiB, nil))
	assert.Equal(t, "-Dfoo=1", geoserver.JavaOpts(0, []string{"-Dfoo=1"}))
}

// The gateway routes GeoServer's public paths to it: /geoserver/wms, /wfs, /wcs and the
// GeoWebCache WMTS, keeping the context so the URLs GeoServer writes stay valid.
func TestGatewayRoutesGeoServer(t *testing.T) {
	gs := geoserver.New(geoserver.Config{})
	gw := gateway.New(gateway.Config{HTTPPort: 28998, Routes: gateway.OGC(gs)})
	d, err := swarmx.Render(stack.New("t", gs, gw), swarmx.Source{})
	require.NoError(t, err)
	var caddyfile string
	for _, c := range d.Configs {
		if strings.Contains(c.Logical, "caddyfile") {
			caddyfile = string(c.Spec.Data)
		}
	}
	require.NotEmpty(t, caddyfile, "no Caddyfile config")
	for _, p := range []string{"/geoserver/wms", "/geoserver/wfs", "/geoserver/wcs", "/geoserver/gwc/service/wmts"} {
		assert.Contains(t, caddyfile, p, "route for %s", p)
	}
	assert.Contains(t, caddyfile, "dynamic a tasks.geoserver 8080")
	g, _ := d.Service("gateway")
	assert.Contains(t, g.DependsOn, "geoserver")
}

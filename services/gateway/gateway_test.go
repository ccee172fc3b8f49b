package gateway

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"golang.org/x/crypto/bcrypt"
)

func backend(name string, eps ...stack.Endpoint) *stack.Service {
	return &stack.Service{Name: name, Image: "kargo/test:1", Endpoints: eps}
}

func render(t *testing.T, parts ...stack.Part) *swarmx.Desired {
	t.Helper()
	d, err := swarmx.Render(stack.New("gw", parts...), swarmx.Source{})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return d
}

func configData(t *testing.T, d *swarmx.Desired, logical string) string {
	t.Helper()
	for _, c := range d.Configs {
		if c.Logical == logical {
			return string(c.Spec.Data)
		}
	}
	t.Fatalf("no config %q", logical)
	return ""
}

func TestHashPasswordIsBcryptAndStable(t *testing.T) {
	h1, err := HashPassword("alice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("alice", "s3cret")
	if h1 != h2 {
		t.Fatalf("hash not stable: %s vs %s", h1, h2)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h1), []byte("s3cret")); err != nil {
		t.Fatalf("bcrypt rejects its own hash %s: %v", h1, err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h1), []byte("wrong")); err == nil {
		t.Fatal("bcrypt accepts a wrong password")
	}
	if cost, _ := bcrypt.Cost([]byte(h1)); cost != BcryptCost {
		t.Fatalf("cost %d", cost)
	}
	if h3, _ := HashPassword("bob", "s3cret"); h3 == h1 {
		t.Fatal("two users with the same password share a salt")
	}
}

func TestGatewayRender(t *testing.T) {
	ms := backend("mapserver",
		stack.Endpoint{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms"},
		stack.Endpoint{Kind: stack.WFS, Port: 80, Path: "/?map=/etc/mapserver/x.map", Public: "/wfs"},
		stack.Endpoint{Kind: stack.WCS, Port: 80, Path: "/wcs"}) // internal only
	api := backend("api")
	dir := t.TempDir()
	gw := New(Config{
		HTTPPort: 28080, HTTPSPort: 28443,
		Routes:    append(OGC(ms), Route{Prefix: "/api", Service: api, Port: 8080, StripPrefix: true}),
		TLS:       &TLS{SelfSignedDir: dir},
		BasicAuth: &BasicAuth{User: "alice", Password: "s3cret"},
		CORS:      &CORS{},
		AccessLog: true,
	})
	d := render(t, ms, api, gw)
	svc, ok := d.Service("gateway")
	if !ok {
		t.Fatal("no gateway service")
	}
	cf := configData(t, d, "gateway-caddyfile")
	for _, want := range []string{
		"@r0 path_regexp r0 ^/api(/.*)?$", // longest prefix first
		"uri strip_prefix /api",
		"dynamic a tasks.api 8080 {",
		`@r1 path_regexp r1 ^/wfs(/.*)?$`,
		"rewrite * {path}?map=/etc/mapserver/x.map&{query}",
		`@r2 path_regexp r2 ^/wms(/.*)?$`,
		"rewrite * /wms{re.r2.1}",
		"dynamic a tasks.mapserver 80 {",
		"refresh 2s", "lb_policy round_robin", "lb_try_duration 5s",
		"header_down +X-Upstream {http.reverse_proxy.upstream.address}",
		"tls " + CertPath + " " + KeyPath,
		"default_sni localhost",
		"basicauth @auth bcrypt \"restricted\" {",
		"Access-Control-Allow-Origin *",
		"output stdout",
		":80 {", ":443 {", "auto_https off",
	} {
		if !strings.Contains(cf, want) {
			t.Errorf("Caddyfile lacks %q:\n%s", want, cf)
		}
	}
	if strings.Contains(cf, "s3cret") || strings.Contains(cf, "/wcs") {
		t.Errorf("Caddyfile holds the clear password or an internal endpoint:\n%s", cf)
	}
	// The hash in the Caddyfile verifies the password.
	for _, l := range strings.Split(cf, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "alice" {
			h, err := base64.StdEncoding.DecodeString(f[1])
			if err != nil || bcrypt.CompareHashAndPassword(h, []byte("s3cret")) != nil {
				t.Errorf("basicauth line %q does not verify the password (%v)", l, err)
			}
		}
	}
	// Ports are host mode, both published.
	ports := svc.Spec.EndpointSpec.Ports
	if len(ports) != 2 || ports[0].PublishedPort != 28080 || ports[0].TargetPort != 80 ||
		ports[1].PublishedPort != 28443 || ports[1].TargetPort != 443 {
		t.Fatalf("ports %+v", ports)
	}
	for _, p := range ports {
		if p.PublishMode != swarm.PortConfigPublishModeHost {
			t.Errorf("port %d mode %s", p.PublishedPort, p.PublishMode)
		}
	}
	// The key is a secret mounted as a file, the certificate and Caddyfile are configs.
	cs := svc.Spec.TaskTemplate.ContainerSpec
	if len(cs.Secrets) != 1 || cs.Secrets[0].File.Name != KeyPath || cs.Secrets[0].File.Mode != 0o400 {
		t.Fatalf("secrets %+v", cs.Secrets)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "key.pem"))
	var found bool
	for _, s := range d.Secrets {
		if s.Logical == "gateway-tls-key" {
			found = string(s.Spec.Data) == string(key)
		}
	}
	if !found || len(key) == 0 {
		t.Fatal("the generated key is not the gateway-tls-key secret")
	}
	targets := map[string]bool{}
	for _, c := range cs.Configs {
		targets[c.File.Name] = true
	}
	if !targets[CaddyfilePath] || !targets[CertPath] {
		t.Fatalf("configs %v", targets)
	}
	if strings.Contains(configData(t, d, "gateway-tls-cert"), "PRIVATE KEY") {
		t.Fatal("the certificate config holds the key")
	}
	if got := strings.Join(d.Services[2].DependsOn, ","); got != "mapserver,api" {
		t.Errorf("dependsOn %q", got)
	}
	if cs.Healthcheck == nil || !strings.Contains(strings.Join(cs.Healthcheck.Test, " "), HealthPath) {
		t.Errorf("health %+v", cs.Healthcheck)
	}

	// A second build with the same configuration renders the same specs (same cert, same hash).
	gw2 := New(Config{
		HTTPPort: 28080, HTTPSPort: 28443,
		Routes:    append(OGC(ms), Route{Prefix: "/api", Service: api, Port: 8080, StripPrefix: true}),
		TLS:       &TLS{SelfSignedDir: dir},
		BasicAuth: &BasicAuth{User: "alice", Password: "s3cret"},
		CORS:      &CORS{},
		AccessLog: true,
	})
	d2 := render(t, ms, api, gw2)
	if s2, _ := d2.Service("gateway"); s2.Hash != svc.Hash {
		t.Error("rendering the same gateway twice gives different specs: an apply would restart it")
	}
}

func TestSelfSignedCertificate(t *testing.T) {
	dir := t.TempDir()
	c1, k1, err := SelfSigned(dir, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(c1)
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if err := cert.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if st, _ := os.Stat(k1); st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", st.Mode())
	}
	c2, _, _ := SelfSigned(dir, []string{"localhost"})
	b2, _ := os.ReadFile(c2)
	if string(b2) != string(b) {
		t.Error("the certificate was generated again")
	}
}

func TestGatewayValidation(t *testing.T) {
	ms := backend("mapserver", stack.Endpoint{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms"})
	cases := []struct {
		name string
		cfg  Config
		path string
	}{
		{"prefix clash", Config{Routes: append(OGC(ms), Route{Prefix: "/wms", Service: ms, Port: 80})}, "config.routes[1].prefix"},
		{"bad prefix", Config{Routes: []Route{{Prefix: "wms/", Service: ms, Port: 80}}}, "config.routes[0].prefix"},
		{"no service", Config{Routes: []Route{{Prefix: "/x", Port: 80}}}, "config.routes[0].service"},
		{"no port", Config{Routes: []Route{{Prefix: "/x", Service: ms}}}, "config.routes[0].port"},
		{"strip and path", Config{Routes: []Route{{Prefix: "/x", Service: ms, Port: 80, Path: "/y", StripPrefix: true}}}, "config.routes[0].stripPrefix"},
		{"half tls files", Config{TLS: &TLS{CertFile: "/tmp/c.pem"}}, "config.tls"},
		{"half tls data", Config{TLS: &TLS{Key: []byte("k")}}, "config.tls"},
		{"no password", Config{BasicAuth: &BasicAuth{User: "alice"}}, "config.basicAuth.password"},
		{"no user", Config{BasicAuth: &BasicAuth{Password: "x"}}, "config.basicAuth.user"},
		{"bad hash", Config{BasicAuth: &BasicAuth{User: "a", PasswordHash: "plain"}}, "config.basicAuth.passwordHash"},
		{"bad origin", Config{CORS: &CORS{Origins: []string{"example.org"}}}, "config.cors.origins[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := stack.New("gw", ms, New(tc.cfg)).Validate()
			ve, ok := err.(*stack.ValidationError)
			want := "services[gateway]." + tc.path
			if !ok || !ve.Has(want) {
				t.Fatalf("want a problem at %s, got %v", want, err)
			}
		})
	}
}

func TestGatewayGivenCertificate(t *testing.T) {
	certPEM, keyPEM, err := GenerateSelfSigned([]string{"maps.example.org"}, timeNow())
	if err != nil {
		t.Fatal(err)
	}
	d := render(t, New(Config{HTTPSPort: 28443, TLS: &TLS{Cert: certPEM, Key: keyPEM}}))
	cf := configData(t, d, "gateway-caddyfile")
	if !strings.Contains(cf, "default_sni maps.example.org") {
		t.Errorf("default SNI is not the certificate's name:\n%s", cf)
	}
	if configData(t, d, "gateway-tls-cert") != string(certPEM) {
		t.Error("certificate config differs")
	}
}

func TestGatewayCarriesPublicOGCEndpointsForReadiness(t *testing.T) {
	ms := backend("mapserver",
		stack.Endpoint{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms", Layers: []string{"roads"}},
		stack.Endpoint{Kind: stack.WFS, Port: 80, Path: "/wfs", Public: "/wfs", Layers: []string{"cities"}},
		stack.Endpoint{Kind: stack.HTTP, Port: 80, Path: "/", Public: "/status"},
		stack.Endpoint{Kind: stack.WCS, Port: 80, Path: "/wcs"}) // internal only
	gw := New(Config{HTTPPort: 28999, Routes: OGC(ms)})
	var got []stack.Endpoint
	for _, ep := range gw.Endpoints {
		if ep.Kind != stack.HTTP {
			got = append(got, ep)
		}
	}
	want := []stack.Endpoint{
		{Kind: stack.WMS, Port: httpPort, Path: "/wms", Layers: []string{"roads"}},
		{Kind: stack.WFS, Port: httpPort, Path: "/wfs", Layers: []string{"cities"}},
	}
	if len(got) != len(want) {
		t.Fatalf("endpoints = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Kind != want[i].Kind || got[i].Port != want[i].Port || got[i].Path != want[i].Path ||
			strings.Join(got[i].Layers, ",") != strings.Join(want[i].Layers, ",") {
			t.Errorf("endpoint %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	// Behind basic auth a probe would get 401: the gateway then keeps only its health endpoint.
	locked := New(Config{HTTPPort: 28999, Routes: OGC(ms), BasicAuth: &BasicAuth{User: "u", Password: "p"}})
	for _, ep := range locked.Endpoints {
		if ep.Kind != stack.HTTP {
			t.Errorf("gateway with basic auth carries %+v", ep)
		}
	}
}

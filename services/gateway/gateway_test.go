package gateway

import (
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

func TestHashPasswordIsBcryptWithARandomSalt(t *testing.T) {
	h1, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
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
	// The salt (the 22 characters after "$2a$10$") is random, not derived from the password:
	// a salt made from the password lets a guess be tested at the speed of that derivation.
	h2, _ := HashPassword("s3cret")
	if h1[:29] == h2[:29] {
		t.Fatalf("two hashes of the same password share their salt: %s %s", h1, h2)
	}
	if _, err := HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Fatal("a password bcrypt would truncate is accepted")
	}
}

func gatewayConfig(ms, api *stack.Service) Config {
	return Config{
		HTTPPort: 28080, HTTPSPort: 28443,
		Routes:    append(OGC(ms), Route{Prefix: "/api", Service: api, Port: 8080, StripPrefix: true}),
		BasicAuth: &BasicAuth{User: "alice", Password: "s3cret"},
		CORS:      &CORS{},
		AccessLog: true,
	}
}

func TestGatewayRender(t *testing.T) {
	// Building and rendering a gateway writes no file: the user's config and home
	// directories stay empty.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	ms := backend("mapserver",
		stack.Endpoint{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms"},
		stack.Endpoint{Kind: stack.WFS, Port: 80, Path: "/?map=/etc/mapserver/x.map", Public: "/wfs"},
		stack.Endpoint{Kind: stack.WCS, Port: 80, Path: "/wcs"}) // internal only
	api := backend("api")
	gw := New(gatewayConfig(ms, api))
	d := render(t, ms, api, gw)
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("building the gateway wrote files under $HOME: %v", entries)
	}
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
		// Host and port apart, so backends advertise http://host:port/... and not host:port:port.
		"header_up X-Forwarded-Host {http.request.host}", "header_up X-Forwarded-Port {http.request.port}",
		// Caddy's local CA issues the certificates of 127.0.0.1 and localhost; the hostless
		// address routes any Host; clients without SNI (by IP) get the 127.0.0.1 one.
		"\nhttps://127.0.0.1:443, https://localhost:443, https://:443 {\n\ttls internal\n\timport routes\n}",
		"auto_https disable_redirects", "skip_install_trust",
		"default_sni 127.0.0.1",
		"\timport " + AuthPath + "\n",
		"Access-Control-Allow-Origin *",
		"output stdout",
		// With basic auth, HTTP only answers the health check and redirects to HTTPS.
		"\n:80 {\n\thandle /healthz {\n\t\trespond \"ok\" 200\n\t}\n\thandle {\n\t\tredir https://{http.request.host}:28443{http.request.uri} 308\n\t}\n}",
	} {
		if !strings.Contains(cf, want) {
			t.Errorf("Caddyfile lacks %q:\n%s", want, cf)
		}
	}
	if strings.Contains(cf, "s3cret") || strings.Contains(cf, "/wcs") || strings.Contains(cf, "auto_https off") {
		t.Errorf("Caddyfile holds the clear password, an internal endpoint or turns certificate management off:\n%s", cf)
	}
	if strings.Contains(cf, "X-Upstream") {
		t.Errorf("X-Upstream (internal task addresses) without UpstreamHeader:\n%s", cf)
	}
	// The hash is in the basic-auth secret and verifies the password.
	checkAuthSecret(t, d, "alice", "s3cret")
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
	// No key or certificate is shipped: Caddy makes them. Its CA and certificates live on
	// a named volume at /data, so they survive task replacement.
	cs := svc.Spec.TaskTemplate.ContainerSpec
	if len(cs.Secrets) != 1 || len(d.Secrets) != 1 || cs.Secrets[0].File.Name != AuthPath {
		t.Fatalf("secrets %+v: want the basic-auth one only", cs.Secrets)
	}
	if len(cs.Configs) != 1 || cs.Configs[0].File.Name != CaddyfilePath {
		t.Fatalf("configs %+v", cs.Configs)
	}
	if len(cs.Mounts) != 1 || cs.Mounts[0].Source != "gw_gateway-data" || cs.Mounts[0].Target != DataDir || cs.Mounts[0].Type != "volume" {
		t.Fatalf("mounts %+v", cs.Mounts)
	}
	if !strings.HasPrefix(RootCAPath, DataDir+"/") {
		t.Errorf("the root CA %s is not on the data volume", RootCAPath)
	}
	if got := strings.Join(d.Services[2].DependsOn, ","); got != "mapserver,api" {
		t.Errorf("dependsOn %q", got)
	}
	if cs.Healthcheck == nil || !strings.Contains(strings.Join(cs.Healthcheck.Test, " "), HealthPath) {
		t.Errorf("health %+v", cs.Healthcheck)
	}

	// A second build with the same configuration renders the same specs.
	d2 := render(t, ms, api, New(gatewayConfig(ms, api)))
	if s2, _ := d2.Service("gateway"); s2.Hash != svc.Hash {
		t.Error("rendering the same gateway twice gives different specs: an apply would restart it")
	}
}

func TestGatewayInternalTLSHosts(t *testing.T) {
	gw := New(Config{HTTPSPort: 28443, DataVolume: "caddy", TLS: &TLS{Hosts: []string{"maps.example.org", "10.199.0.1", "::1"}}})
	d := render(t, gw)
	cf := configData(t, d, "gateway-caddyfile")
	for _, want := range []string{
		"https://maps.example.org:443, https://10.199.0.1:443, https://[::1]:443, https://:443 {",
		"default_sni 10.199.0.1", // the first IP address: clients by IP send no SNI
		"tls internal",
	} {
		if !strings.Contains(cf, want) {
			t.Errorf("Caddyfile lacks %q:\n%s", want, cf)
		}
	}
	svc, _ := d.Service("gateway")
	if m := svc.Spec.TaskTemplate.ContainerSpec.Mounts; len(m) != 1 || m[0].Source != "gw_caddy" {
		t.Errorf("mounts %+v", m)
	}
	cf = configData(t, render(t, New(Config{HTTPSPort: 28443, TLS: &TLS{Hosts: []string{"a.example", "b.example"}, ServerName: "b.example"}})), "gateway-caddyfile")
	if !strings.Contains(cf, "default_sni b.example") {
		t.Errorf("server name not used:\n%s", cf)
	}
	// Without HTTPS there is no TLS at all and no data volume.
	plain := New(Config{HTTPPort: 28080})
	if len(plain.Mounts) != 0 || len(plain.Declares.Volumes) != 0 {
		t.Errorf("HTTP-only gateway mounts %+v", plain.Mounts)
	}
	cf = configData(t, render(t, plain), "gateway-caddyfile")
	if !strings.Contains(cf, "auto_https off") || strings.Contains(cf, "tls") || strings.Contains(cf, ":443") {
		t.Errorf("HTTP-only Caddyfile:\n%s", cf)
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
		{"auth without HTTPS", Config{BasicAuth: &BasicAuth{User: "a", Password: "p"}}, "config.http"},
		{"auth served in clear", Config{HTTPSPort: 28443, HTTP: HTTPServe, BasicAuth: &BasicAuth{User: "a", Password: "p"}}, "config.http"},
		{"redirect without HTTPS", Config{HTTP: HTTPRedirect}, "config.http"},
		{"off without HTTPS", Config{HTTP: HTTPOff}, "config.http"},
		{"unknown HTTP mode", Config{HTTPSPort: 28443, HTTP: "sometimes"}, "config.http"},
		{"bad origin", Config{CORS: &CORS{Origins: []string{"example.org"}}}, "config.cors.origins[0]"},
		{"host with a space", Config{HTTPSPort: 28443, TLS: &TLS{Hosts: []string{"localhost", "a b"}}}, "config.tls.hosts[1]"},
		{"host breaking the Caddyfile", Config{HTTPSPort: 28443, TLS: &TLS{Hosts: []string{"x {\n}"}}}, "config.tls.hosts[0]"},
		{"host twice", Config{HTTPSPort: 28443, TLS: &TLS{Hosts: []string{"localhost", "localhost"}}}, "config.tls.hosts[1]"},
		{"server name not a host", Config{HTTPSPort: 28443, TLS: &TLS{ServerName: "maps.example.org"}}, "config.tls.serverName"},
		{"bad server name", Config{HTTPSPort: 28443, TLS: &TLS{ServerName: "a;b"}}, "config.tls.serverName"},
		{"hosts with a given certificate", Config{TLS: &TLS{Cert: []byte("c"), Key: []byte("k"), Hosts: []string{"localhost"}}}, "config.tls.hosts"},
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
	certPEM, keyPEM := generateCert(t, "maps.example.org")
	d := render(t, New(Config{HTTPSPort: 28443, TLS: &TLS{Cert: certPEM, Key: keyPEM}}))
	cf := configData(t, d, "gateway-caddyfile")
	for _, want := range []string{"default_sni maps.example.org", "auto_https off", "\n:443 {\n\ttls " + CertPath + " " + KeyPath + "\n"} {
		if !strings.Contains(cf, want) {
			t.Errorf("Caddyfile lacks %q:\n%s", want, cf)
		}
	}
	if strings.Contains(cf, "tls internal") {
		t.Errorf("a given certificate must not be replaced by Caddy's:\n%s", cf)
	}
	if configData(t, d, "gateway-tls-cert") != string(certPEM) {
		t.Error("certificate config differs")
	}
	svc, _ := d.Service("gateway")
	cs := svc.Spec.TaskTemplate.ContainerSpec
	if len(cs.Secrets) != 1 || cs.Secrets[0].File.Name != KeyPath || cs.Secrets[0].File.Mode != 0o400 {
		t.Fatalf("secrets %+v", cs.Secrets)
	}
	if len(d.Secrets) != 1 || string(d.Secrets[0].Spec.Data) != string(keyPEM) {
		t.Fatal("the key is not the gateway-tls-key secret")
	}
	if strings.Contains(configData(t, d, "gateway-tls-cert"), "PRIVATE KEY") {
		t.Fatal("the certificate config holds the key")
	}
	if len(cs.Mounts) != 0 {
		t.Errorf("mounts %+v", cs.Mounts)
	}

	// Files are read when the stack is rendered.
	dir := t.TempDir()
	cf1, kf1 := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(cf1, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf1, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := swarmx.Render(stack.New("gw", New(Config{HTTPSPort: 28443, TLS: &TLS{CertFile: cf1, KeyFile: kf1}})), swarmx.Source{ReadFile: os.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	if configData(t, d, "gateway-tls-cert") != string(certPEM) || !strings.Contains(configData(t, d, "gateway-caddyfile"), "default_sni maps.example.org") {
		t.Error("certificate files not shipped")
	}
}

func TestGatewayCarriesPublicOGCEndpointsForReadiness(t *testing.T) {
	ms := backend("mapserver",
		stack.Endpoint{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms", Layers: []string{"roads"}},
		stack.Endpoint{Kind: stack.WFS, Port: 80, Path: "/wfs", Public: "/wfs", Layers: []string{"cities"}},
		stack.Endpoint{Kind: stack.HTTP, Port: 80, Path: "/", Public: "/status"},
		stack.Endpoint{Kind: stack.WCS, Port: 80, Path: "/wcs"}, // internal only
		stack.Endpoint{Kind: stack.OGCAPIFeatures, Port: 80, Path: "/ogcapi", Public: "/ogcapi", Layers: []string{"cities"}},
		stack.Endpoint{Kind: stack.XYZ, Port: 80, Path: "/mapcache/gmaps", Public: "/xyz", Layers: []string{"roads@g.png"}})
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
		{Kind: stack.OGCAPIFeatures, Port: httpPort, Path: "/ogcapi", Layers: []string{"cities"}},
		{Kind: stack.XYZ, Port: httpPort, Path: "/xyz", Layers: []string{"roads@g.png"}},
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
	locked := New(Config{HTTPPort: 28999, HTTPSPort: 28443, Routes: OGC(ms), BasicAuth: &BasicAuth{User: "u", Password: "p"}})
	for _, ep := range locked.Endpoints {
		if ep.Kind != stack.HTTP {
			t.Errorf("gateway with basic auth carries %+v", ep)
		}
	}
	// Nor when HTTP redirects (a probe would follow it to a certificate it does not trust).
	redirected := New(Config{HTTPPort: 28999, HTTPSPort: 28443, HTTP: HTTPRedirect, Routes: OGC(ms)})
	for _, ep := range redirected.Endpoints {
		if ep.Kind != stack.HTTP {
			t.Errorf("gateway redirecting HTTP carries %+v", ep)
		}
	}
}

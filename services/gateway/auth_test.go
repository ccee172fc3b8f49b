package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kalisio/kargo/internal/fakeengine"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"golang.org/x/crypto/bcrypt"
)

// checkAuthSecret checks that the basic-auth secret holds the basicauth directive for user,
// with a hash that verifies password.
func checkAuthSecret(t *testing.T, d *swarmx.Desired, user, password string) string {
	t.Helper()
	for _, s := range d.Secrets {
		if s.Logical != "gateway-basicauth" {
			continue
		}
		data := string(s.Spec.Data)
		for _, l := range strings.Split(data, "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == user {
				h, err := base64.StdEncoding.DecodeString(f[1])
				if err != nil || bcrypt.CompareHashAndPassword(h, []byte(password)) != nil {
					t.Fatalf("basicauth line %q does not verify the password (%v)", l, err)
				}
				if !strings.HasPrefix(data, "basicauth @auth bcrypt ") {
					t.Fatalf("basic-auth secret %q", data)
				}
				return f[1]
			}
		}
		t.Fatalf("no line for %s in the basic-auth secret %q", user, data)
	}
	t.Fatal("no gateway-basicauth secret")
	return ""
}

// The password hash, and the user, are only in the secret: not in the Caddyfile (a config
// that docker config inspect shows), not in render --format json, not in any file of a
// compose export but the 0600 secret file.
func TestGatewayAuthHashOnlyInASecret(t *testing.T) {
	ms := backend("mapserver", stack.Endpoint{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms"})
	gw := New(Config{HTTPSPort: 28443, Routes: OGC(ms), BasicAuth: &BasicAuth{User: "alice", Password: "s3cret", Realm: "maps"}})
	d := render(t, ms, gw)
	hash := checkAuthSecret(t, d, "alice", "s3cret")
	raw, _ := base64.StdEncoding.DecodeString(hash)
	leaks := []string{"s3cret", hash, string(raw), "alice"}

	cf := configData(t, d, "gateway-caddyfile")
	for _, l := range leaks {
		if strings.Contains(cf, l) {
			t.Errorf("the Caddyfile (a config) holds %q:\n%s", l, cf)
		}
	}
	if !strings.Contains(cf, "import "+AuthPath) {
		t.Errorf("the Caddyfile does not import the directive:\n%s", cf)
	}
	svc, _ := d.Service("gateway")
	cs := svc.Spec.TaskTemplate.ContainerSpec
	if len(cs.Secrets) != 1 || cs.Secrets[0].File.Name != AuthPath || cs.Secrets[0].File.Mode != 0o400 {
		t.Fatalf("secret refs %+v", cs.Secrets)
	}

	js, _ := json.Marshal(d.Redacted())
	for _, l := range leaks[:3] {
		if strings.Contains(string(js), l) {
			t.Errorf("render --format json holds %q", l)
		}
	}

	dir := t.TempDir()
	if _, err := swarmx.WriteCompose(d, dir); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		if rel == filepath.Join("secrets", "gateway-basicauth") {
			if fi.Mode().Perm() != 0o600 || !strings.Contains(string(b), hash) {
				t.Errorf("%s: mode %v, content %q", rel, fi.Mode().Perm(), b)
			}
			return nil
		}
		for _, l := range leaks[:3] {
			if strings.Contains(string(b), l) {
				t.Errorf("%s (mode %v) holds %q", rel, fi.Mode().Perm(), l)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every build hashes the password with a new salt, yet applying the same configuration again
// changes nothing (the secret made from the same user, realm and password is kept), and a new
// password rolls out a new secret.
func TestGatewayReapplyKeepsTheHash(t *testing.T) {
	ctx := context.Background()
	e := fakeengine.New()
	a := &swarmx.Applier{Client: e}
	ms := backend("mapserver")
	st := func(pw string) *stack.Stack {
		return stack.New("gw", ms, New(Config{HTTPSPort: 28443, Routes: []Route{{Prefix: "/", Service: ms, Port: 80}},
			BasicAuth: &BasicAuth{User: "alice", Password: pw}}))
	}
	if _, err := a.Apply(ctx, st("s3cret"), swarmx.ApplyOptions{NoWait: true}); err != nil {
		t.Fatal(err)
	}
	first, ok := e.Secret("gw_gateway-basicauth_v1")
	if !ok {
		t.Fatalf("secrets %v", e.SecretNames())
	}
	e.Reset()
	res, err := a.Apply(ctx, st("s3cret"), swarmx.ApplyOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	if m := e.Mutations(); len(m) != 0 || res.Mutations != 0 {
		t.Fatalf("re-applying the same gateway made mutating calls: %v", m)
	}
	if kept, _ := e.Secret("gw_gateway-basicauth_v1"); string(kept.Spec.Data) != string(first.Spec.Data) {
		t.Fatal("the kept secret changed")
	}
	if _, err := a.Apply(ctx, st("n3w-password"), swarmx.ApplyOptions{NoWait: true}); err != nil {
		t.Fatal(err)
	}
	if names := e.SecretNames(); len(names) != 1 || names[0] != "gw_gateway-basicauth_v2" {
		t.Fatalf("after a password change: %v", names)
	}
	sec, _ := e.Secret("gw_gateway-basicauth_v2")
	for _, l := range strings.Split(string(sec.Spec.Data), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "alice" {
			h, _ := base64.StdEncoding.DecodeString(f[1])
			if bcrypt.CompareHashAndPassword(h, []byte("n3w-password")) != nil {
				t.Fatal("the new secret does not verify the new password")
			}
		}
	}
}

// With basic auth, plain HTTP redirects to HTTPS by default, or is off on request (not
// published; the health check keeps a listener on 127.0.0.1 inside the container).
func TestGatewayHTTPModes(t *testing.T) {
	ms := backend("mapserver")
	routes := []Route{{Prefix: "/", Service: ms, Port: 80}}
	auth := &BasicAuth{User: "alice", Password: "s3cret"}
	published := func(gw *stack.Service) []uint32 {
		var out []uint32
		for _, p := range gw.Ports {
			out = append(out, p.Published)
		}
		return out
	}
	httpSite := func(gw *stack.Service) string {
		cf := configData(t, render(t, ms, gw), "gateway-caddyfile")
		i := strings.Index(cf, "\n:80 {\n")
		if i < 0 {
			t.Fatalf("no HTTP site:\n%s", cf)
		}
		site := cf[i+1:]
		return site[:strings.Index(site, "\n}\n")+2]
	}

	red := New(Config{HTTPPort: 28080, HTTPSPort: 28443, Routes: routes, BasicAuth: auth})
	if site := httpSite(red); strings.Contains(site, "import routes") || !strings.Contains(site, "redir https://{http.request.host}:28443{http.request.uri} 308") ||
		!strings.Contains(site, "handle /healthz") {
		t.Errorf("with basic auth, HTTP must only redirect (and answer /healthz):\n%s", site)
	}
	if got := published(red); len(got) != 2 || got[0] != 28080 || got[1] != 28443 {
		t.Errorf("published %v", got)
	}
	// On the default HTTPS port the redirect names no port.
	if site := httpSite(New(Config{HTTPSPort: 443, Routes: routes, BasicAuth: auth})); !strings.Contains(site, "redir https://{http.request.host}{http.request.uri} 308") {
		t.Errorf("redirect to 443:\n%s", site)
	}

	off := New(Config{HTTPPort: 28080, HTTPSPort: 28443, HTTP: HTTPOff, Routes: routes, BasicAuth: auth})
	if got := published(off); len(got) != 1 || got[0] != 28443 {
		t.Errorf("HTTP off publishes %v", got)
	}
	if site := httpSite(off); strings.Contains(site, "import routes") || strings.Contains(site, "redir") || !strings.Contains(site, "bind 127.0.0.1") {
		t.Errorf("HTTP off:\n%s", site)
	}
	if h := strings.Join(off.Health.Test, " "); !strings.Contains(h, "http://127.0.0.1:80/healthz") {
		t.Errorf("health check %s", h)
	}

	// Without auth HTTP serves every route unless told otherwise.
	if site := httpSite(New(Config{HTTPPort: 28080, Routes: routes})); !strings.Contains(site, "import routes") {
		t.Errorf("plain gateway:\n%s", site)
	}
	if site := httpSite(New(Config{HTTPPort: 28080, HTTPSPort: 28443, HTTP: HTTPRedirect, Routes: routes})); !strings.Contains(site, "redir ") {
		t.Errorf("redirect on request:\n%s", site)
	}
	for _, gw := range []*stack.Service{red, off} {
		if err := stack.New("gw", ms, gw).Validate(); err != nil {
			t.Errorf("valid configuration refused: %v", err)
		}
	}
}

// Only real CORS preflights skip authentication, and only when CORS is on: any other OPTIONS
// request needs credentials like the rest.
func TestGatewayAuthBypassIsPreflightOnly(t *testing.T) {
	ms := backend("mapserver")
	routes := []Route{{Prefix: "/", Service: ms, Port: 80}}
	matcher := func(cfg Config) string {
		cf := configData(t, render(t, ms, New(cfg)), "gateway-caddyfile")
		i := strings.Index(cf, "\t@auth {\n")
		if i < 0 {
			t.Fatalf("no @auth matcher:\n%s", cf)
		}
		m := cf[i:]
		return m[:strings.Index(m, "\n\t}\n")+4]
	}
	auth := &BasicAuth{User: "alice", Password: "s3cret"}
	noCORS := matcher(Config{HTTPSPort: 28443, Routes: routes, BasicAuth: auth})
	if strings.Contains(noCORS, "OPTIONS") || !strings.Contains(noCORS, "not path /healthz") {
		t.Errorf("without CORS, OPTIONS requests must need credentials:\n%s", noCORS)
	}
	withCORS := matcher(Config{HTTPSPort: 28443, Routes: routes, BasicAuth: auth, CORS: &CORS{}})
	want := "\t\tnot {\n\t\t\tmethod OPTIONS\n\t\t\theader Origin *\n\t\t\theader Access-Control-Request-Method *\n\t\t}\n"
	if !strings.Contains(withCORS, want) || strings.Contains(withCORS, "not method OPTIONS") {
		t.Errorf("with CORS, only preflights (OPTIONS with Origin and Access-Control-Request-Method) skip auth:\n%s", withCORS)
	}
}

func TestGatewayUpstreamHeaderOnRequest(t *testing.T) {
	ms := backend("mapserver")
	routes := []Route{{Prefix: "/", Service: ms, Port: 80}}
	cf := configData(t, render(t, ms, New(Config{Routes: routes, CORS: &CORS{}})), "gateway-caddyfile")
	if strings.Contains(cf, "X-Upstream") {
		t.Errorf("X-Upstream by default:\n%s", cf)
	}
	cf = configData(t, render(t, ms, New(Config{Routes: routes, CORS: &CORS{}, UpstreamHeader: true})), "gateway-caddyfile")
	for _, want := range []string{"header_down +X-Upstream {http.reverse_proxy.upstream.address}", "Access-Control-Expose-Headers X-Upstream"} {
		if !strings.Contains(cf, want) {
			t.Errorf("Caddyfile lacks %q:\n%s", want, cf)
		}
	}
}

// BenchmarkPasswordGuess is the cost of testing one guess of the basic-auth password against
// the hash in the gateway's secret (bcrypt, random salt), beside what it cost when the salt
// was derived from the password: one HMAC-SHA256, compared with the salt in the hash.
func BenchmarkPasswordGuess(b *testing.B) {
	h, err := HashPassword("winter2024")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bcrypt", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if bcrypt.CompareHashAndPassword([]byte(h), []byte("summer2025")) == nil {
				b.Fatal("wrong guess accepted")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/guess")
	})
	b.Run("former-salt-oracle", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			mac := hmac.New(sha256.New, []byte("summer2025"))
			mac.Write([]byte("kargo-gateway-basicauth\x00alice"))
			_ = mac.Sum(nil)[:16]
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/guess")
	})
}

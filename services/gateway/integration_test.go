package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/internal/enginetest"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// echo is a backend made of the gateway image itself: Caddy answering with its task's
// hostname and the path it received.
func echo(replicas uint64) *stack.Service {
	return &stack.Service{
		Name: "echo", Image: images.Ref("gateway"), Replicas: stack.Ptr(replicas),
		Configs: []stack.FileRef{{Source: "echo-caddyfile", Target: "/etc/caddy/Caddyfile"}},
		Health: &stack.Health{Test: []string{"CMD", "curl", "-fsS", "http://127.0.0.1:8080/"},
			Interval: 2 * time.Second, Timeout: 2 * time.Second, Retries: 3},
		Declares: stack.Objects{Configs: []stack.Config{{Name: "echo-caddyfile", Data: []byte(
			"{\n\tauto_https off\n}\n:8080 {\n\trespond \"host={system.hostname} path={path} query={query}\" 200\n}\n")}}},
	}
}

type httpc struct {
	t *testing.T
	c *http.Client
}

func (c httpc) do(method, url string, auth bool, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	if !strings.HasPrefix(url, "http://127.0.0.1:") && !strings.HasPrefix(url, "https://127.0.0.1:") {
		c.t.Fatalf("tests only talk to 127.0.0.1, not %s", url)
	}
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth("alice", "s3cret")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestGatewayOnSwarm(t *testing.T) {
	a := enginetest.Applier(t)
	const name = "kargo-it-gateway"
	enginetest.Cleanup(t, a, name)
	be := echo(3)
	// No certificate given: Caddy's local CA issues those of 127.0.0.1 and localhost. With
	// basic auth, plain HTTP redirects to HTTPS.
	cfg := gateway.Config{
		HTTPPort: 28080, HTTPSPort: 28443,
		Routes:         []gateway.Route{{Prefix: "/echo", Service: be, Port: 8080, StripPrefix: true}, {Prefix: "/keep", Service: be, Port: 8080}},
		BasicAuth:      &gateway.BasicAuth{User: "alice", Password: "s3cret"},
		CORS:           &gateway.CORS{},
		AccessLog:      true,
		UpstreamHeader: true,
	}
	gw := gateway.New(cfg)
	st := stack.New(name, be, gw)
	enginetest.Apply(t, a, st, swarmx.ApplyOptions{})
	enginetest.Get(t, "http://127.0.0.1:28080/healthz", time.Minute)

	// Plain HTTP only redirects to HTTPS (308 keeps the method), before any credentials.
	noFollow := httpc{t, &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	for _, method := range []string{"GET", "POST", "OPTIONS"} {
		resp, body := noFollow.do(method, "http://127.0.0.1:28080/echo/a?x=1", false, nil)
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://127.0.0.1:28443/echo/a?x=1" {
			t.Fatalf("%s over HTTP: status %d, Location %q, body %q: want a 308 to HTTPS", method, resp.StatusCode, resp.Header.Get("Location"), body)
		}
		if strings.Contains(body, "host=") {
			t.Fatalf("%s over HTTP reached the backend: %q", method, body)
		}
	}

	// The Caddyfile, a config anyone with access to the Swarm reads with docker config
	// inspect, holds neither the user nor the password hash: they are in a secret.
	cfgNames := strings.Fields(enginetest.Docker(t, "service", "inspect", name+"_gateway",
		"--format", "{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}} {{end}}"))
	if len(cfgNames) != 1 {
		t.Fatalf("gateway configs %v", cfgNames)
	}
	b64 := strings.TrimSpace(enginetest.Docker(t, "config", "inspect", "--format", "{{printf \"%s\" .Spec.Data}}", cfgNames[0]))
	caddyfile := b64
	if raw, err := base64.StdEncoding.DecodeString(b64); err == nil {
		caddyfile = string(raw)
	}
	if !strings.Contains(caddyfile, "import "+gateway.AuthPath) {
		t.Fatalf("docker config inspect does not show the gateway's Caddyfile:\n%s", caddyfile)
	}
	for _, leak := range []string{"alice", "s3cret", "$2a$", "JDJhJ" /* base64 of "$2a$" */, "bcrypt"} {
		if strings.Contains(caddyfile, leak) {
			t.Errorf("the Caddyfile config holds %q:\n%s", leak, caddyfile)
		}
	}
	for _, sec := range strings.Fields(enginetest.Docker(t, "secret", "ls", "--format", "{{.Name}}", "--filter", "label=com.docker.stack.namespace="+name)) {
		if sec != name+"_gateway-basicauth_v1" {
			t.Errorf("secret %s: want only %s_gateway-basicauth_v1", sec, name)
		}
	}

	// HTTPS answers with a certificate of Caddy's local CA, which verifies for 127.0.0.1 (a
	// client connecting by IP sends no SNI) and for localhost, against the root CA fetched
	// from the running task.
	root := rootCA(t, name+"_gateway")
	pool := x509.NewCertPool()
	pool.AddCert(root)
	hc := httpc{t, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}

	// Without credentials, or with wrong ones: 401. With them: 200.
	if resp, _ := hc.do("GET", "https://127.0.0.1:28443/echo/", false, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without credentials: status %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "https://127.0.0.1:28443/echo/", nil)
	req.SetBasicAuth("alice", "wrong")
	if resp, err := hc.c.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	// Requests spread over the three tasks; the prefix is stripped, the query kept.
	upstreams := map[string]int{}
	hosts := map[string]bool{}
	var resp *http.Response
	var body string
	for i := 0; i < 30; i++ {
		resp, body = hc.do("GET", "https://127.0.0.1:28443/echo/a/b?x=1", true, map[string]string{"Origin": "https://app.example"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d: %s", i, resp.StatusCode, body)
		}
		if !strings.Contains(body, "path=/a/b query=x=1") {
			t.Fatalf("prefix not stripped or query lost: %q", body)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Fatalf("CORS header %q", got)
		}
		upstreams[resp.Header.Get("X-Upstream")]++
		hosts[strings.Fields(body)[0]] = true
	}
	t.Logf("upstreams: %v", upstreams)
	if len(upstreams) != 3 || len(hosts) != 3 {
		t.Fatalf("30 requests reached %d upstreams (%v) and %d hosts, want 3", len(upstreams), upstreams, len(hosts))
	}
	for u, n := range upstreams {
		if n < 5 {
			t.Errorf("upstream %s got only %d of 30 requests", u, n)
		}
	}
	// Without StripPrefix the path goes through unchanged; /echo does not match /echoes.
	if resp, body := hc.do("GET", "https://127.0.0.1:28443/keep/x", true, nil); resp.StatusCode != 200 || !strings.Contains(body, "path=/keep/x ") {
		t.Fatalf("/keep/x: %d %q", resp.StatusCode, body)
	}
	if resp, _ := hc.do("GET", "https://127.0.0.1:28443/echoes", true, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/echoes: status %d, want 404", resp.StatusCode)
	}
	// A CORS preflight answers without credentials; any other OPTIONS request needs them.
	if resp, _ := hc.do("OPTIONS", "https://127.0.0.1:28443/echo/", false, map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}); resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: status %d, headers %v", resp.StatusCode, resp.Header)
	}
	for _, hdr := range []map[string]string{nil, {"Origin": "https://app.example"}, {"Access-Control-Request-Method": "GET"}} {
		if resp, body := hc.do("OPTIONS", "https://127.0.0.1:28443/echo/", false, hdr); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "host=") {
			t.Fatalf("OPTIONS with headers %v and no credentials: status %d %q, want 401", hdr, resp.StatusCode, body)
		}
	}

	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatal("no TLS state")
	}
	leaf := resp.TLS.PeerCertificates[0]
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("served certificate: %v", err)
	}
	inter := x509.NewCertPool()
	for _, c := range resp.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("served certificate does not chain to the gateway's root CA: %v", err)
	}
	// By name: SNI localhost, on the same port of 127.0.0.1.
	byName := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	if conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", "127.0.0.1:28443", byName); err != nil {
		t.Errorf("TLS to localhost: %v", err)
	} else {
		conn.Close()
	}

	// A rolling update of the backend (start-first, one task at a time) loses no request:
	// the gateway re-resolves tasks.echo every 2s and retries another task for up to 5s.
	done := make(chan struct{})
	go func() {
		defer close(done)
		enginetest.Docker(t, "service", "update", "--force", "--quiet", "--detach=false", name+"_echo")
	}()
	var sent, failed int
	deadline := time.Now().Add(3 * time.Minute)
loop:
	for sent < 5000 && time.Now().Before(deadline) {
		select {
		case <-done:
			break loop
		default:
		}
		req, _ := http.NewRequest("GET", "https://127.0.0.1:28443/echo/roll", nil)
		req.SetBasicAuth("alice", "s3cret")
		resp, err := hc.c.Do(req)
		sent++
		if err != nil {
			failed++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			failed++
		}
		time.Sleep(10 * time.Millisecond)
	}
	<-done
	t.Logf("during the rolling update of echo: %d requests, %d failed", sent, failed)
	if failed > 0 || sent < 20 {
		t.Errorf("rolling update: %d of %d requests failed", failed, sent)
	}

	// The access log goes to the service's output.
	logs := enginetest.Docker(t, "service", "logs", "--raw", name+"_gateway")
	if !strings.Contains(logs, `"uri":"/echo/a/b?x=1"`) {
		t.Errorf("no access log line for /echo/a/b in:\n%.2000s", logs)
	}

	// Applying the same stack again (a new program run: new builder call, so a new bcrypt
	// salt) changes nothing: the basic-auth secret made from the same credentials is kept.
	plan, err := a.Plan(t.Context(), stack.New(name, be, gateway.New(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	if ch := plan.Changes(); len(ch) > 0 {
		t.Errorf("second run plans changes:\n%v", plan)
	}

	// The CA lives on the data volume: a replaced gateway task keeps it, and clients that
	// trust it keep connecting.
	enginetest.Docker(t, "service", "update", "--force", "--quiet", "--detach=false", name+"_gateway")
	enginetest.Get(t, "http://127.0.0.1:28080/healthz", time.Minute)
	if again := rootCA(t, name+"_gateway"); !again.Equal(root) {
		t.Error("the replaced gateway task has another root CA")
	}
	httpsOK := func(path string) {
		t.Helper()
		var lastErr error
		for i := 0; i < 80; i++ {
			req, _ := http.NewRequest("GET", "https://127.0.0.1:28443"+path, nil)
			req.SetBasicAuth("alice", "s3cret")
			var r *http.Response
			if r, lastErr = hc.c.Do(req); lastErr == nil {
				r.Body.Close()
				if r.StatusCode == http.StatusOK {
					return
				}
				lastErr = fmt.Errorf("status %d", r.StatusCode)
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Errorf("https %s: %v", path, lastErr)
	}
	httpsOK("/echo/again")

	// HTTP off: the HTTP port is no longer published (the health check keeps answering
	// inside the container), HTTPS goes on; X-Upstream goes with UpstreamHeader.
	cfg.HTTP, cfg.UpstreamHeader = gateway.HTTPOff, false
	enginetest.Apply(t, a, stack.New(name, be, gateway.New(cfg)), swarmx.ApplyOptions{})
	httpsOK("/echo/off")
	if resp, _ := hc.do("GET", "https://127.0.0.1:28443/echo/", true, nil); resp.Header.Get("X-Upstream") != "" {
		t.Errorf("X-Upstream without UpstreamHeader: %q", resp.Header.Get("X-Upstream"))
	}
	if ports := enginetest.Docker(t, "service", "inspect", name+"_gateway", "--format",
		"{{range .Endpoint.Spec.Ports}}{{.PublishedPort}} {{end}}"); strings.TrimSpace(ports) != "28443" {
		t.Errorf("published ports with HTTP off: %q", ports)
	}
	var conn net.Conn
	for i := 0; i < 40; i++ {
		if conn, err = net.DialTimeout("tcp", "127.0.0.1:28080", time.Second); err != nil {
			break
		}
		conn.Close()
		time.Sleep(250 * time.Millisecond)
	}
	if err == nil {
		t.Error("HTTP off: 127.0.0.1:28080 still accepts connections")
	}
}

// rootCA reads the root certificate of Caddy's local CA from a running task of the service,
// as a user would: docker exec <container> cat /data/caddy/pki/authorities/local/root.crt.
func rootCA(t *testing.T, service string) *x509.Certificate {
	t.Helper()
	var last string
	for i := 0; i < 60; i++ {
		ids := strings.Fields(enginetest.Docker(t, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+service))
		if len(ids) == 1 {
			out, err := exec.Command("docker", "exec", ids[0], "cat", gateway.RootCAPath).CombinedOutput()
			if err == nil {
				blk, _ := pem.Decode(out)
				if blk == nil || blk.Type != "CERTIFICATE" {
					t.Fatalf("%s is not a PEM certificate: %.300s", gateway.RootCAPath, out)
				}
				c, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				if !c.IsCA {
					t.Fatalf("%s is not a CA certificate", gateway.RootCAPath)
				}
				return c
			}
			last = fmt.Sprintf("docker exec: %v: %s", err, out)
		} else {
			last = fmt.Sprintf("%d running containers", len(ids))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no root CA from %s: %s", service, last)
	return nil
}

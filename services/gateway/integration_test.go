package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
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
	// No certificate given: Caddy's local CA issues those of 127.0.0.1 and localhost.
	cfg := gateway.Config{
		HTTPPort: 28080, HTTPSPort: 28443,
		Routes:    []gateway.Route{{Prefix: "/echo", Service: be, Port: 8080, StripPrefix: true}, {Prefix: "/keep", Service: be, Port: 8080}},
		BasicAuth: &gateway.BasicAuth{User: "alice", Password: "s3cret"},
		CORS:      &gateway.CORS{},
		AccessLog: true,
	}
	gw := gateway.New(cfg)
	st := stack.New(name, be, gw)
	enginetest.Apply(t, a, st, swarmx.ApplyOptions{})

	c := httpc{t, &http.Client{Timeout: 10 * time.Second}}
	enginetest.Get(t, "http://127.0.0.1:28080/healthz", time.Minute)

	// Without credentials, or with wrong ones: 401. With them: 200.
	if resp, _ := c.do("GET", "http://127.0.0.1:28080/echo/", false, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without credentials: status %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:28080/echo/", nil)
	req.SetBasicAuth("alice", "wrong")
	if resp, err := c.c.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	// Requests spread over the three tasks; the prefix is stripped, the query kept.
	upstreams := map[string]int{}
	hosts := map[string]bool{}
	for i := 0; i < 30; i++ {
		resp, body := c.do("GET", "http://127.0.0.1:28080/echo/a/b?x=1", true, map[string]string{"Origin": "https://app.example"})
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
	if resp, body := c.do("GET", "http://127.0.0.1:28080/keep/x", true, nil); resp.StatusCode != 200 || !strings.Contains(body, "path=/keep/x ") {
		t.Fatalf("/keep/x: %d %q", resp.StatusCode, body)
	}
	if resp, _ := c.do("GET", "http://127.0.0.1:28080/echoes", true, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/echoes: status %d, want 404", resp.StatusCode)
	}
	// CORS preflight answers without credentials.
	if resp, _ := c.do("OPTIONS", "http://127.0.0.1:28080/echo/", false, map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}); resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: status %d, headers %v", resp.StatusCode, resp.Header)
	}

	// HTTPS answers with a certificate of Caddy's local CA, which verifies for 127.0.0.1 (a
	// client connecting by IP sends no SNI) and for localhost, against the root CA fetched
	// from the running task.
	root := rootCA(t, name+"_gateway")
	pool := x509.NewCertPool()
	pool.AddCert(root)
	hc := httpc{t, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	resp, body := hc.do("GET", "https://127.0.0.1:28443/echo/tls", true, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "path=/tls") {
		t.Fatalf("https: %d %q", resp.StatusCode, body)
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
	if resp, _ := hc.do("GET", "https://127.0.0.1:28443/echo/", false, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("https without credentials: %d", resp.StatusCode)
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
		req, _ := http.NewRequest("GET", "http://127.0.0.1:28080/echo/roll", nil)
		req.SetBasicAuth("alice", "s3cret")
		resp, err := c.c.Do(req)
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

	// Applying the same stack again (a new program run: new builder call) changes nothing.
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
	var lastErr error
	for i := 0; i < 40; i++ {
		req, _ := http.NewRequest("GET", "https://127.0.0.1:28443/echo/again", nil)
		req.SetBasicAuth("alice", "s3cret")
		var r *http.Response
		if r, lastErr = hc.c.Do(req); lastErr == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				break
			}
			lastErr = fmt.Errorf("status %d", r.StatusCode)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if lastErr != nil {
		t.Errorf("https after the gateway task was replaced: %v", lastErr)
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

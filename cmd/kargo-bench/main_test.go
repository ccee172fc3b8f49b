package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/examples/quickstart/qstack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStats(t *testing.T) {
	lo, med, hi := stats([]float64{3, 1, 2})
	assert.Equal(t, []float64{1, 2, 3}, []float64{lo, med, hi})
	_, med, _ = stats([]float64{4, 1, 3, 2})
	assert.Equal(t, 2.5, med)
}

func TestReportRatioAndMarkdown(t *testing.T) {
	r := newReport()
	for _, v := range []float64{10, 12, 11} {
		r.add("5. tiles", "static", "static file", "req/s", "", "", v*100)
	}
	for _, v := range []float64{5, 6, 7} {
		r.add("5. tiles", "tile", "cached tile", "req/s", "static", "tile", v*100)
	}
	r.add("1. cold", "cold", "cold apply", "s", "missing", "", 30)
	q, b, ok := r.ratio(r.index["tile"])
	require.True(t, ok)
	assert.Equal(t, "static", b.Key)
	assert.InDelta(t, 6.0/11.0, q, 1e-9)
	_, _, ok = r.ratio(r.index["cold"])
	assert.False(t, ok, "a baseline that was not measured gives no ratio")
	assert.Equal(t, 3, r.Figures())

	var buf bytes.Buffer
	r.Markdown(&buf, "b.png", "rerun here")
	md := buf.String()
	assert.Contains(t, md, "| cached tile | req/s | 600 | 500 | 700 | 3 | static file | 0.55 |")
	assert.Less(t, strings.Index(md, "## 1. cold"), strings.Index(md, "## 5. tiles"), "sections in the issue's order")

	png := filepath.Join(t.TempDir(), "b.png")
	require.NoError(t, r.Chart(png))
	b2, err := os.ReadFile(png)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(b2, []byte("\x89PNG")))
}

func TestEscapeDollars(t *testing.T) {
	out, changed := escapeDollars([]byte(`test: ["CMD-SHELL", "pg_isready -U $$USER"]` + "\n" + `command: echo $HOME`))
	assert.True(t, changed)
	assert.Equal(t, `test: ["CMD-SHELL", "pg_isready -U $$$$USER"]`+"\n"+`command: echo $$HOME`, string(out))
	out, changed = escapeDollars([]byte("a: $$x\n"))
	assert.False(t, changed, "a file already escaped is left alone")
	assert.Equal(t, "a: $$x\n", string(out))
}

func TestLoadOnlyOnLoopback(t *testing.T) {
	for _, u := range []string{"http://10.0.0.1/", "http://localhost:8080/", "http://example.org/"} {
		_, err := attack(context.Background(), u, Load{Concurrency: 1, Duration: time.Second, MaxRequests: 1})
		assert.ErrorContains(t, err, "only 127.0.0.1", u)
	}
	_, err := attack(context.Background(), "http://127.0.0.1:1/", Load{Concurrency: 1, Duration: time.Second})
	assert.ErrorContains(t, err, "unbounded")
}

func TestAttackIsBoundedInRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusInternalServerError)
		}
		if r.URL.Path == "/etag" {
			if r.Header.Get("If-None-Match") != `"t1"` {
				http.Error(w, "no If-None-Match", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNotModified)
		}
	}))
	defer srv.Close()
	res, err := attack(context.Background(), srv.URL+"/", Load{Concurrency: 1, Duration: 10 * time.Second, MaxRequests: 50})
	require.NoError(t, err)
	assert.EqualValues(t, 50, res.Requests, "the attack stops at MaxRequests, long before its duration")
	assert.Zero(t, res.Errors)
	assert.Positive(t, res.Rate)
	res, err = attack(context.Background(), srv.URL+"/fail", Load{Concurrency: 2, Duration: 10 * time.Second, MaxRequests: 20})
	require.NoError(t, err)
	assert.Equal(t, res.Requests, res.Errors, "failed responses are counted as errors")
	// The load's header goes with every request; 304 is a success.
	res, err = attack(context.Background(), srv.URL+"/etag", Load{Concurrency: 2, Duration: 10 * time.Second, MaxRequests: 20, Header: http.Header{"If-None-Match": {`"t1"`}}})
	require.NoError(t, err)
	assert.Zero(t, res.Errors)
	assert.EqualValues(t, 20, res.Requests)
}

func TestBenchStacksAreValid(t *testing.T) {
	d := qstack.Data{SQL: []byte("select 1;"), Elevation: []byte("ncols 1\n")}
	for _, st := range []interface{ Validate() error }{quickstartStack(d), noopStackOf(20), bigStackOf(bigStack, 500)} {
		require.NoError(t, st.Validate())
	}
	st, err := serveStackOf(d, 2, []byte("tile bytes"))
	require.NoError(t, err)
	require.NoError(t, st.Validate())
	desired, err := swarmx.Render(st, swarmx.Source{})
	require.NoError(t, err)
	var caddyfile string
	for _, c := range desired.Configs {
		if strings.HasPrefix(c.Logical, "gateway-caddyfile") {
			caddyfile = string(c.Spec.Data)
		}
	}
	require.NotEmpty(t, caddyfile)
	static := strings.Index(caddyfile, "handle "+staticPrefix+"/*")
	plain := strings.Index(caddyfile, "handle_path "+plainPrefix+"/*")
	fallback := strings.Index(caddyfile, "respond \"kargo gateway: no route")
	assert.True(t, static > 0 && plain > 0 && static < fallback && plain < fallback, "bench routes come before the catch-all:\n%s", caddyfile)
	gw, ok := desired.Service("gateway")
	require.True(t, ok)
	assert.Contains(t, targets(gw), staticDir+"/"+staticFile)
	for _, name := range []string{"msdirect", "mscgi", "tiles"} {
		s, ok := desired.Service(name)
		require.True(t, ok, name)
		require.NotNil(t, s.Spec.EndpointSpec, name)
		assert.Equal(t, "host", string(s.Spec.EndpointSpec.Ports[0].PublishMode), name)
	}
}

func targets(s swarmx.Service) []string {
	var out []string
	for _, c := range s.Spec.TaskTemplate.ContainerSpec.Configs {
		out = append(out, c.File.Name)
	}
	return out
}

func TestFindings(t *testing.T) {
	r := newReport()
	r.add(secTiles, "tiles/static/c4/rps", "static", "req/s", "", "", 2000)
	r.add(secTiles, "tiles/tile/c4/rps", "tile", "req/s", "tiles/static/c4/rps", "", 1000)
	r.add(secTiles, "tiles/mapcache/c4/rps", "mapcache", "req/s", "tiles/static/c4/rps", "", 2200)
	r.add(secGetMap, "getmap/direct/c4/rps", "d", "req/s", "", "", 40)
	r.add(secGetMap, "getmap/gateway/c4/rps", "g", "req/s", "", "", 38)
	r.add(secGetMap, "getmap/direct/c4/p50", "d", "ms", "", "", 100)
	r.add(secGetMap, "getmap/gateway/c4/p50", "g", "ms", "", "", 105)
	r.findings([]int{1, 4})
	assert.Equal(t, []string{"Finding, c=4, throughput as a share of the static file's (2000 req/s) through the same gateway: " +
		"the cached tile through the gateway 0.50; the tile straight from MapCache (no gateway) 1.10."}, r.section(secTiles).Notes)
	assert.Equal(t, []string{"Finding, c=4: through the gateway 38.0 req/s vs 40.0 direct (-5.0 %), p50 105.0 ms vs 100.0 ms (+5.0 ms)."}, r.section(secGetMap).Notes)
	assert.Empty(t, r.section(secCold).Notes, "no finding without both tools measured")
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/examples/quickstart/qstack"
	"github.com/kalisio/kargo/ogc"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// Section titles, in the order.
const (
	secCold   = "1. Cold apply of the quickstart"
	secNoop   = "2. No-op re-apply of a 20-service stack"
	secRender = "3. Render and plan of a 500-service stack"
	secGetMap = "4. WMS GetMap 256×256"
	secTiles  = "5. Cached tile vs static file through the gateway"
	secSeed   = "6. MapCache seeding"
)

// measureRenderPlan times Render of 20 and 500 services (pure) and Plan of the 500 against
// the engine (nothing deployed under that name, so Plan is one read per object kind).
func measureRenderPlan(ctx context.Context, r *Report, e *engine, repeats int) error {
	small, big := bigStackOf(bigStack, 20), bigStackOf(bigStack, 500)
	a := &swarmx.Applier{Client: e.cli}
	for i := 0; i < repeats; i++ {
		t := time.Now()
		const k = 25 // 25 × 20 services = 500 services
		for j := 0; j < k; j++ {
			if _, err := swarmx.Render(small, swarmx.Source{}); err != nil {
				return err
			}
		}
		r.add(secRender, "render20x25", "render 20 services × 25", "ms", "", "", ms(time.Since(t)))
		t = time.Now()
		if _, err := swarmx.Render(big, swarmx.Source{}); err != nil {
			return err
		}
		r.add(secRender, "render500", "render 500 services", "ms", "render20x25", "render 500 / 25×20", ms(time.Since(t)))
		t = time.Now()
		p, err := a.Plan(ctx, big)
		if err != nil {
			return err
		}
		r.add(secRender, "plan500", "plan 500 services (engine reads + diff)", "ms", "render500", "plan 500 / render 500", ms(time.Since(t)))
		if n := len(p.Changes()); n < 500 {
			return fmt.Errorf("plan of %d services: %d changes", 500, n)
		}
	}
	r.note(secRender, "Baselines: rendering the same 500 services as 25 stacks of 20 (ratio 1 = render scales linearly); plan's baseline is render alone, so its ratio is the cost of reading the engine and diffing.")
	return nil
}

// measureNoop deploys 20 services, then re-applies them unchanged, counting the Engine API
// calls through a counting wrapper of swarmx.Client.
func measureNoop(ctx context.Context, r *Report, e *engine, repeats int) error {
	st := noopStackOf(20)
	cc := &countingClient{Client: e.cli}
	a := e.applier(cc)
	_ = e.remove(ctx, noopStack)
	defer func() { _ = e.remove(context.WithoutCancel(ctx), noopStack) }()
	actx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	t := time.Now()
	res, err := a.Apply(actx, st, swarmx.ApplyOptions{Timeout: 3 * time.Minute})
	if err != nil {
		return fmt.Errorf("first apply of %s: %w", noopStack, err)
	}
	r.note(secNoop, "The first (cold) apply of the 20 services took %.1f s with %d mutating calls (%d counted by the wrapper).", time.Since(t).Seconds(), res.Mutations, cc.mutations.Load())
	for i := 0; i < repeats; i++ {
		cc.reset()
		t := time.Now()
		if _, err := a.Plan(actx, st); err != nil {
			return err
		}
		r.add(secNoop, "noop-plan", "plan (reads only)", "ms", "", "", ms(time.Since(t)))
		r.add(secNoop, "noop-plan-calls", "plan: engine API calls", "calls", "", "", float64(cc.calls.Load()))
		cc.reset()
		t = time.Now()
		res, err := a.Apply(actx, st, swarmx.ApplyOptions{Timeout: time.Minute})
		if err != nil {
			return fmt.Errorf("no-op apply of %s: %w", noopStack, err)
		}
		r.add(secNoop, "noop-apply", "re-apply unchanged", "ms", "noop-plan", "no-op apply / plan", ms(time.Since(t)))
		r.add(secNoop, "noop-mutations", "re-apply: mutating API calls", "calls", "", "", float64(cc.mutations.Load()))
		r.add(secNoop, "noop-calls", "re-apply: all engine API calls", "calls", "noop-plan-calls", "", float64(cc.calls.Load()))
		if n := len(res.Plan.Changes()); n != 0 || cc.mutations.Load() != 0 {
			r.note(secNoop, "A re-apply changed %d object(s) with %d mutating call(s): it should change nothing.", n, cc.mutations.Load())
		}
	}
	r.note(secNoop, "Mutating calls are counted by a wrapper of swarmx.Client around the moby client (service, network, secret, config and volume create/update/remove); they must be 0.")
	return nil
}

// endpointChecks are the OGC endpoints the gateway of a rendered stack routes, as probes of
// GetCapabilities listing their layers.
func endpointChecks(st *stack.Stack, port uint32) ([]func(context.Context) error, error) {
	d, err := swarmx.Render(st, swarmx.Source{})
	if err != nil {
		return nil, err
	}
	gw, ok := d.Service("gateway")
	if !ok {
		return nil, errors.New("stack has no gateway")
	}
	c := &ogc.Client{HTTP: &http.Client{Timeout: 5 * time.Second}}
	var checks []func(context.Context) error
	seen := map[ogc.Service]bool{}
	for _, ep := range gw.Endpoints {
		var s ogc.Service
		switch ep.Kind {
		case stack.WMS:
			s = ogc.WMS
		case stack.WFS:
			s = ogc.WFS
		case stack.WCS:
			s = ogc.WCS
		case stack.WMTS:
			s = ogc.WMTS
		default:
			continue
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		base := fmt.Sprintf("http://127.0.0.1:%d%s", port, ep.Path)
		layers := ep.Layers
		checks = append(checks, func(ctx context.Context) error { return c.Check(ctx, s, base, layers) })
	}
	if len(checks) != 4 {
		return nil, fmt.Errorf("gateway routes %d of WMS, WFS, WCS, WMTS", len(checks))
	}
	return checks, nil
}

// untilAnswered polls every check from start until each has succeeded once, and returns the
// time from start until the last of them first succeeded.
func untilAnswered(ctx context.Context, start time.Time, checks []func(context.Context) error) (time.Duration, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last time.Duration
	var errs []error
	for _, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := check(cctx)
				cancel()
				if err == nil {
					mu.Lock()
					last = max(last, time.Since(start))
					mu.Unlock()
					return
				}
				select {
				case <-ctx.Done():
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				case <-time.After(250 * time.Millisecond):
				}
			}
		}()
	}
	wg.Wait()
	return last, errors.Join(errs...)
}

// escapeDollars doubles every `$` of a compose file that is not escaped yet (compose reads a
// single `$` as a variable).
func escapeDollars(b []byte) ([]byte, bool) {
	s := string(b)
	odd := regexp.MustCompile(`\$+`).FindAllString(s, -1)
	need := false
	for _, run := range odd {
		if len(run)%2 == 1 {
			need = true
		}
	}
	if !need {
		return b, false
	}
	return []byte(strings.ReplaceAll(s, "$", "$$")), true
}

// measureCold applies the quickstart from nothing with Kargo and with `docker stack deploy`
// of the compose file Kargo renders, alternately, removing the stack (and its volumes, so
// PostGIS initialises again) before each run.
func measureCold(ctx context.Context, r *Report, e *engine, d qstack.Data, repeats int, logw io.Writer) error {
	st := quickstartStack(d)
	checks, err := endpointChecks(st, qsHTTPPort)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kargo-bench-compose-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer func() { _ = e.remove(context.WithoutCancel(ctx), qsStack) }()
	// The docker CLI takes about two minutes to return (its own stability wait): it is
	// waited for on the first repeat only, for its figure; later repeats detach, which
	// changes nothing in what Swarm does, and only the time until the stack answers is kept.
	detach := false
	tools := []struct {
		key, label string
		run        func(ctx context.Context) error
	}{
		{"kargo", "kargo apply", func(ctx context.Context) error {
			return kargo.Run(ctx, []string{"apply", "--timeout", "4m"}, st, kargo.Options{Stdout: logw, Stderr: logw})
		}},
		{"stack", "docker stack deploy", func(ctx context.Context) error {
			desired, err := swarmx.Render(st, swarmx.Source{})
			if err != nil {
				return err
			}
			file, err := swarmx.WriteCompose(desired, dir)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if eb, escaped := escapeDollars(b); escaped {
				r.note(secCold, "The rendered compose file held unescaped `$` (see the reliability issue): the harness doubled them before `docker stack deploy`.")
				if err := os.WriteFile(file, eb, 0o644); err != nil {
					return err
				}
			}
			out, err := docker(ctx, 6*time.Minute, "stack", "deploy", fmt.Sprintf("--detach=%t", detach), "--resolve-image", "never", "-c", file, qsStack)
			fmt.Fprintln(logw, out)
			return err
		}},
	}
	for i := 0; i < repeats; i++ {
		detach = i > 0
		for _, tool := range tools {
			if err := e.remove(ctx, qsStack); err != nil {
				return err
			}
			fmt.Fprintf(logw, "cold apply %d: %s\n", i+1, tool.label)
			pctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
			start := time.Now()
			answered := make(chan time.Duration, 1)
			var perr error
			go func() {
				t, err := untilAnswered(pctx, start, checks)
				perr = err
				answered <- t
			}()
			err := tool.run(pctx)
			returned := time.Since(start)
			ans := <-answered
			cancel()
			if err != nil {
				return fmt.Errorf("cold apply with %s: %w", tool.label, err)
			}
			if perr != nil {
				return fmt.Errorf("cold apply with %s: endpoints: %w", tool.label, perr)
			}
			if tool.key == "kargo" || !detach {
				r.add(secCold, "cold-"+tool.key+"-return", tool.label+": until the tool returns", "s", "cold-stack-return", chartIf(tool.key == "kargo", "cold: returns"), returned.Seconds())
			}
			r.add(secCold, "cold-"+tool.key+"-answer", tool.label+": until WMS, WFS, WCS, WMTS answer through the gateway", "s", "cold-stack-answer", chartIf(tool.key == "kargo", "cold: answers"), ans.Seconds())
		}
	}
	r.note(secCold, "The quickstart's stack (PostGIS loading its data at first start, MapServer × 2, MapCache, the gateway) under another name and ports; volumes are removed before each run, so PostGIS initialises every time. Images are built beforehand and not counted.")
	r.note(secCold, "'Answer' is when each of GetCapabilities of WMS, WFS, WCS and WMTS through the gateway has answered listing its layers (polled every 250 ms from the start).")
	r.note(secCold, "`docker stack deploy --detach=false --resolve-image never -c docker-compose.yml` of `render --format compose`; docker CLI %s. The CLI's return is waited for on the first repeat only; later repeats pass `--detach=true` (Swarm does the same work) and count only the time until the stack answers.", dockerCLIVersion(ctx))
	return nil
}

func dockerCLIVersion(ctx context.Context) string {
	out, err := docker(ctx, 20*time.Second, "version", "--format", "{{.Client.Version}}")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(out)
}

// loadSet runs the attacks of one row of targets at one concurrency and records, per target,
// throughput, p50, p99 and errors, each against the target named base.
func loadSet(ctx context.Context, r *Report, section, prefix string, c int, l Load, targets []target, base string, warm bool) error {
	l.Concurrency = c
	for _, t := range targets {
		if warm {
			// Untimed: lets MapServer spawn its FastCGI processes and the caches fill.
			if _, err := attack(ctx, t.url, Load{Concurrency: c, Duration: time.Second, MaxRequests: 2000}); err != nil {
				return err
			}
		}
		l.Header = t.header
		res, err := attack(ctx, t.url, l)
		if err != nil {
			return err
		}
		k := fmt.Sprintf("%s/%s/c%d", prefix, t.key, c)
		b := ""
		if t.key != base {
			b = fmt.Sprintf("%s/%s/c%d", prefix, base, c)
		}
		lbl := fmt.Sprintf("%s, c=%d", t.label, c)
		r.add(section, k+"/rps", lbl+": throughput", "req/s", opt(b, "/rps"), chartIf(b != "", fmt.Sprintf("%s c=%d req/s", t.short, c)), res.Rate)
		r.add(section, k+"/p50", lbl+": p50", "ms", opt(b, "/p50"), "", ms(res.P50))
		r.add(section, k+"/p99", lbl+": p99", "ms", opt(b, "/p99"), "", ms(res.P99))
		r.add(section, k+"/err", lbl+": errors", "requests", "", "", float64(res.Errors))
		if res.FirstError != "" {
			r.note(section, "%s: %d of %d requests failed, e.g. %s", lbl, res.Errors, res.Requests, res.FirstError)
		}
	}
	return nil
}

func opt(base, suffix string) string {
	if base == "" {
		return ""
	}
	return base + suffix
}

type target struct {
	key, label, short, url string
	// header is sent with every request of the target.
	header http.Header
}

func chartIf(ok bool, label string) string {
	if ok {
		return label
	}
	return ""
}

// serveOptions shape the serving measures.
type serveOptions struct {
	repeats      int
	concurrency  []int
	load         Load // GetMap
	tileLoad     Load
	replicas     []int // MapServer replicas to scale to (1 is measured first)
	scaleConc    int
	seedZoom     [2]int
	seedRepeats  int
	seedAtReplic uint64
}

// getMapURL is a 256×256 GetMap of the roads and cities over France (WMS 1.3.0, lat/lon axes).
func getMapURL(base string) string {
	return base + "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=roads,cities&STYLES=&CRS=EPSG:4326" +
		"&BBOX=41,-5,52,10&WIDTH=256&HEIGHT=256&FORMAT=image/png"
}

// tilePath is a WMTS tile of the roads over France, zoom 6 (TileRow 22, TileCol 32);
// tmsTilePath is the same tile in TMS, whose y counts from the bottom (2^6-1-22 = 41).
const (
	tilePath    = "/1.0.0/roads/default/GoogleMapsCompatible/6/22/32.png"
	tmsTilePath = "/1.0.0/roads@GoogleMapsCompatible/6/32/41.png"
)

// measureServing deploys the serving stack and runs measures 4, 5 and 6.
func measureServing(ctx context.Context, r *Report, e *engine, d qstack.Data, o serveOptions) error {
	_ = e.remove(ctx, serveStack)
	defer func() { _ = e.remove(context.WithoutCancel(ctx), serveStack) }()
	apply := func(replicas uint64, static []byte) error {
		st, err := serveStackOf(d, replicas, static)
		if err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, 6*time.Minute)
		defer cancel()
		if _, err := e.applier(nil).Apply(actx, st, swarmx.ApplyOptions{Timeout: 4 * time.Minute}); err != nil {
			return fmt.Errorf("apply %s with %d MapServer replicas: %w", serveStack, replicas, err)
		}
		return nil
	}
	if err := apply(1, nil); err != nil {
		return err
	}
	gw := fmt.Sprintf("http://127.0.0.1:%d", gwPort)
	direct := fmt.Sprintf("http://127.0.0.1:%d", directPort)
	cgi := fmt.Sprintf("http://127.0.0.1:%d", cgiPort)
	tilesDirect := fmt.Sprintf("http://127.0.0.1:%d/mapcache/wmts", tilesPort)
	for _, u := range []string{getMapURL(gw), getMapURL(direct), getMapURL(cgi), tilesDirect + tilePath} {
		if err := waitAnswer(ctx, u, "image/png", 2*time.Minute); err != nil {
			return err
		}
	}
	// The first request renders the tile and caches it; then the static route gets a file of
	// its size (its very bytes).
	tile, _, err := probe(ctx, gw+"/wmts"+tilePath, "image/png")
	if err != nil {
		return fmt.Errorf("first tile: %w", err)
	}
	if err := apply(1, tile); err != nil {
		return err
	}
	static := gw + staticPrefix + "/" + staticFile
	if err := waitAnswer(ctx, static, "image/png", time.Minute); err != nil {
		return err
	}
	plain := true
	if err := waitAnswer(ctx, gw+plainPrefix+tilePath, "image/png", 30*time.Second); err != nil {
		plain = false
		r.note(secTiles, "The plain reverse_proxy route did not answer, so it was left out: %v", err)
	}
	_, th, err := probe(ctx, gw+"/wmts"+tilePath, "image/png")
	if err != nil {
		return err
	}
	sb, sh, err := probe(ctx, static, "image/png")
	if err != nil {
		return err
	}
	r.note(secTiles, "Tile: WMTS `%s` (%d bytes), cached before the loads; static file: the same bytes served by the same gateway with Caddy's file_server (a route of the bench stack only). The gateway answers a WMTS RESTful or XYZ tile MapCache has stored from its file (the cache volume mounted read-only in the gateway), and asks MapCache for the others; TMS tiles (y from the bottom) always go to MapCache. The 304 measure sends the tile's ETag in If-None-Match.", tilePath, len(tile))
	if len(sb) != len(tile) {
		return fmt.Errorf("static file is %d bytes, the tile %d", len(sb), len(tile))
	}
	r.note(secTiles, "Response headers of the tile through the gateway: %s; of the static file: %s.", headerSummary(th), headerSummary(sh))
	tms := gw + "/tms" + tmsTilePath
	tmsBody, tmsH, err := probe(ctx, tms, "image/png")
	if err != nil {
		return err
	}
	if !bytes.Equal(tmsBody, tile) {
		return fmt.Errorf("TMS %s is not the WMTS tile %s", tmsTilePath, tilePath)
	}
	r.note(secTiles, "Response headers of the same tile through the gateway in TMS (`%s`, y from the bottom, always answered by MapCache): %s.", tmsTilePath, headerSummary(tmsH))
	// The 304 path: a client holding the tile asks again with its ETag.
	var notModified http.Header
	if etag := th.Get("Etag"); etag != "" {
		notModified = http.Header{"If-None-Match": {etag}}
		status, _, _, err := probeWith(ctx, gw+"/wmts"+tilePath, notModified)
		if err != nil {
			return err
		}
		if status != http.StatusNotModified {
			return fmt.Errorf("WMTS tile with If-None-Match %s: status %d, want 304", etag, status)
		}
	} else {
		r.note(secTiles, "The tile through the gateway has no ETag: the 304 path (If-None-Match) is not measured.")
	}

	// 4. GetMap: gateway vs direct (both one MapServer task), plain CGI of the same image.
	for i := 0; i < o.repeats; i++ {
		for _, c := range o.concurrency {
			if err := loadSet(ctx, r, secGetMap, "getmap", c, o.load, []target{
				{key: "direct", label: "direct to MapServer (FastCGI)", short: "GetMap direct", url: getMapURL(direct)},
				{key: "gateway", label: "through the gateway", short: "GetMap gateway", url: getMapURL(gw)},
				{key: "cgi", label: "direct to MapServer (plain CGI)", short: "GetMap CGI", url: getMapURL(cgi)},
			}, "direct", i == 0); err != nil {
				return err
			}
		}
	}
	r.note(secGetMap, "GetMap of roads and cities over France, 256×256 PNG, WMS 1.3.0. The gateway and the direct service each have one MapServer task (CPU limit 1, up to 5 FastCGI processes); plain CGI is the same image with Apache's mod_cgid instead of mod_fcgid (a mapserv process per request). Baseline: straight to a MapServer task through its host-mode port.")

	// 5. Cached tiles vs the static file, through the same gateway; MapCache direct and the
	// gateway's own /healthz (a fixed 2-byte answer) locate the time.
	for i := 0; i < o.repeats; i++ {
		for _, c := range o.concurrency {
			ts := []target{
				{key: "static", label: "static file through the gateway", short: "static", url: static},
				{key: "tile", label: "cached tile through the gateway", short: "tile gateway", url: gw + "/wmts" + tilePath},
				{key: "tile304", label: "cached tile through the gateway, If-None-Match (304)", short: "tile 304", url: gw + "/wmts" + tilePath, header: notModified},
				{key: "tms", label: "cached tile through the gateway, TMS", short: "tile TMS", url: tms},
				{key: "plain", label: "cached tile through a plain reverse_proxy route of the same gateway", short: "tile plain proxy", url: gw + plainPrefix + tilePath},
				{key: "mapcache", label: "cached tile straight to MapCache", short: "tile MapCache", url: tilesDirect + tilePath},
				{key: "healthz", label: "gateway /healthz (respond)", short: "/healthz", url: gw + "/healthz"},
			}
			ts = slices.DeleteFunc(ts, func(t target) bool {
				return t.key == "plain" && !plain || t.key == "tile304" && notModified == nil
			})
			if err := loadSet(ctx, r, secTiles, "tiles", c, o.tileLoad, ts, "static", i == 0); err != nil {
				return err
			}
		}
	}
	if ev := apacheEvidence(ctx); ev != "" {
		r.note(secTiles, "%s", ev)
	}

	// 4 (scaling) and 6: more MapServer replicas behind the gateway; seeding.
	seeded := false
	seed := func() error {
		for i := 0; i < o.seedRepeats; i++ {
			for _, n := range []int{1, 2} {
				tiles, secs, err := runSeed(ctx, n, o.seedZoom)
				if err != nil {
					return err
				}
				b := ""
				if n != 1 {
					b = "seed-1"
				}
				r.add(secSeed, fmt.Sprintf("seed-%d", n), fmt.Sprintf("mapcache_seed, %d seeder thread(s)", n), "tiles/s", b, chartIf(n != 1, "seed 2 threads"), float64(tiles)/secs)
				r.note(secSeed, "Each run re-renders (-f) the %d tiles of the roads layer over France (%.0f,%.0f to %.0f,%.0f), zoom %d to %d, GoogleMapsCompatible, one WMS request per tile, as www-data inside the MapCache task.", tiles, qstack.FranceExtent[0], qstack.FranceExtent[1], qstack.FranceExtent[2], qstack.FranceExtent[3], o.seedZoom[0], o.seedZoom[1])
			}
		}
		seeded = true
		return nil
	}
	if o.seedAtReplic <= 1 {
		if err := seed(); err != nil {
			return err
		}
	}
	if len(o.replicas) > 1 {
		for _, n := range o.replicas {
			if n != 1 {
				if err := apply(uint64(n), tile); err != nil {
					return err
				}
				if err := waitAnswer(ctx, getMapURL(gw), "image/png", 2*time.Minute); err != nil {
					return err
				}
			}
			// Untimed warm-up: new tasks spawn their FastCGI processes, and the first task's
			// may have ended after FcgidIdleTimeout (300 s) while the tiles were measured.
			if _, err := attack(ctx, getMapURL(gw), Load{Concurrency: o.scaleConc, Duration: 2 * time.Second, MaxRequests: 2000}); err != nil {
				return err
			}
			for i := 0; i < o.repeats; i++ {
				res, err := attack(ctx, getMapURL(gw), Load{Concurrency: o.scaleConc, Duration: o.load.Duration, MaxRequests: o.load.MaxRequests})
				if err != nil {
					return err
				}
				b := ""
				if n != 1 {
					b = fmt.Sprintf("scale/r1/c%d", o.scaleConc)
				}
				k := fmt.Sprintf("scale/r%d/c%d", n, o.scaleConc)
				lbl := fmt.Sprintf("%d MapServer replica(s) through the gateway, c=%d", n, o.scaleConc)
				r.add(secGetMap, k, lbl+": throughput", "req/s", b, chartIf(n != 1, fmt.Sprintf("GetMap %d replicas c=%d", n, o.scaleConc)), res.Rate)
				r.add(secGetMap, k+"/p50", lbl+": p50", "ms", opt(b, "/p50"), "", ms(res.P50))
				r.add(secGetMap, k+"/err", lbl+": errors", "requests", "", "", float64(res.Errors))
			}
			if uint64(n) == o.seedAtReplic && !seeded {
				if err := seed(); err != nil {
					return err
				}
			}
		}
		r.note(secGetMap, "Scaling: the gateway's MapServer service updated to 1, 2 and 3 replicas (each with CPU limit 1) on this machine's %d cores, shared with PostGIS, the gateway and the load generator.", cores())
	}
	if !seeded {
		if err := seed(); err != nil {
			return err
		}
	}
	return nil
}

// headerSummary keeps the caching and hop headers of a response.
func headerSummary(h http.Header) string {
	var parts []string
	for _, k := range []string{"Cache-Control", "Expires", "Etag", "Last-Modified", "Content-Length", "Server", "X-Upstream"} {
		if v := h.Get(k); v != "" {
			parts = append(parts, fmt.Sprintf("`%s: %s`", k, v))
		}
	}
	if len(parts) == 0 {
		return "none of Cache-Control, Expires, ETag, Last-Modified"
	}
	return strings.Join(parts, ", ")
}

// apacheEvidence reads the keep-alive and MPM settings of MapCache's Apache, which bound how
// the gateway reuses its upstream connections.
func apacheEvidence(ctx context.Context) string {
	id, err := containerOf(ctx, serveStack, "tiles")
	if err != nil {
		return ""
	}
	out, err := docker(ctx, 30*time.Second, "exec", id, "sh", "-c",
		"grep -hE '^(KeepAlive|MaxKeepAliveRequests|KeepAliveTimeout)' /etc/apache2/apache2.conf; "+
			"ls /etc/apache2/mods-enabled | grep -o '^mpm_[a-z]*' | head -1; "+
			"grep -hE '^\\s*(StartServers|MaxRequestWorkers|ThreadsPerChild|MinSpareThreads)' /etc/apache2/mods-enabled/mpm_*.conf")
	if err != nil {
		return ""
	}
	fields := strings.Fields(strings.Join(strings.Fields(out), " "))
	return "MapCache's Apache (as shipped by Debian, inside the MapCache task): " + strings.Join(fields, " ") + "."
}

var seededRE = regexp.MustCompile(`seeded (\d+) (?:meta)?tiles`)

// runSeed runs mapcache_seed in the MapCache task with n threads, forcing every tile of the
// extent and zoom range to be rendered again, and returns the tiles seeded and the seconds.
func runSeed(ctx context.Context, n int, zoom [2]int) (int, float64, error) {
	id, err := containerOf(ctx, serveStack, "tiles")
	if err != nil {
		return 0, 0, err
	}
	x0, y0 := mercator(qstack.FranceExtent[0], qstack.FranceExtent[1])
	x1, y1 := mercator(qstack.FranceExtent[2], qstack.FranceExtent[3])
	ext := fmt.Sprintf("%.2f,%.2f,%.2f,%.2f", x0, y0, x1, y1)
	t := time.Now()
	out, err := docker(ctx, 3*time.Minute, "exec", "-u", "www-data", id, "timeout", "170",
		"mapcache_seed", "-c", "/etc/mapcache/mapcache.xml", "-t", "roads", "-g", "GoogleMapsCompatible",
		"-z", fmt.Sprintf("%d,%d", zoom[0], zoom[1]), "-e", ext, "-n", strconv.Itoa(n), "-f")
	secs := time.Since(t).Seconds()
	if err != nil {
		return 0, 0, fmt.Errorf("mapcache_seed: %w", err)
	}
	m := seededRE.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0, 0, fmt.Errorf("mapcache_seed: no count of seeded tiles in its output: %s", lastLines(out, 3))
	}
	tiles, _ := strconv.Atoi(m[len(m)-1][1])
	if tiles == 0 {
		return 0, 0, fmt.Errorf("mapcache_seed seeded no tile: %s", lastLines(out, 3))
	}
	return tiles, secs, nil
}

func mercator(lon, lat float64) (x, y float64) {
	const r = 6378137.0
	return r * lon * math.Pi / 180, r * math.Log(math.Tan(math.Pi/4+lat*math.Pi/360))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeLog opens the run's log file.
func writeLog(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.Create(filepath.Join(dir, "kargo-bench.log"))
}

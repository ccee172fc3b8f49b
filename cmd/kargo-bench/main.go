// Command kargo-bench measures Kargo on the local single-node Swarm and writes a markdown
// report with a PNG chart (docs/benchmarks.md, docs/benchmarks.png):
//
//  1. cold apply of the quickstart vs `docker stack deploy` of the compose file Kargo renders;
//  2. no-op re-apply of a 20-service stack (time, engine API calls);
//  3. render and plan of a 500-service stack;
//  4. WMS GetMap through the gateway vs straight to a MapServer task, FastCGI vs plain CGI,
//     1, 2, 3 MapServer replicas;
//  5. a cached tile through the gateway (WMTS RESTful, answered from MapCache's file; the same
//     with If-None-Match, a 304; TMS, answered by MapCache) vs a static file of the same
//     size, same gateway;
//  6. MapCache seeding, 1 vs 2 seeder threads.
//
// Every figure is taken over repeats, side by side with its baseline in the same run. Every
// load is bounded in requests and time and goes to 127.0.0.1 only. It deploys stacks named
// bench, benchqs and benchnoop on host ports 38080-38091 and removes them (with their
// volumes) when done. Run it through scripts/bench.sh, which holds the engine lock.
//
//	kargo-bench [--quick] [--out docs/benchmarks.md]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/swarmx"
)

type options struct {
	quick   bool
	out     string
	repo    string
	commit  string
	only    string
	logDir  string
	repeats int
}

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "smoke run: one repeat, short loads, no cold apply nor scaling (< 3 min)")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "markdown report; the chart is written beside it (.png)")
	flag.StringVar(&o.repo, "repo", ".", "repository root (for the quickstart's data)")
	flag.StringVar(&o.commit, "commit", "", "Kargo commit measured, for the report")
	flag.StringVar(&o.only, "only", "", "comma-separated measures to run (1-6); default all")
	flag.StringVar(&o.logDir, "log-dir", os.TempDir(), "directory of the run's log (kargo-bench.log)")
	flag.IntVar(&o.repeats, "repeats", 0, "repeats of each figure (default 3, 1 with --quick)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "kargo-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.repeats == 0 {
		o.repeats = 3
		if o.quick {
			o.repeats = 1
		}
	}
	want := func(n string) bool {
		return o.only == "" || slices.Contains(strings.Split(o.only, ","), n)
	}
	limit := 20 * time.Minute
	if o.quick {
		limit = 8 * time.Minute // a bound on a slow machine, not an expectation
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	logf, err := writeLog(o.logDir)
	if err != nil {
		return err
	}
	defer logf.Close()
	logw := io.Writer(logf)
	step := func(format string, args ...any) {
		line := fmt.Sprintf("%s kargo-bench: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		fmt.Fprint(os.Stderr, line)
		fmt.Fprint(logw, line)
	}
	step("log in %s", logf.Name())

	cli, err := swarmx.NewClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	e := &engine{cli: cli, log: logw}
	d, err := readQuickstartData(o.repo)
	if err != nil {
		return err
	}

	r := newReport()
	r.Quick = o.quick
	r.Started = time.Now()
	r.Machine = machine(ctx, o.commit)
	load0 := loadAvg()

	step("images")
	if err := ensureImages(ctx, e); err != nil {
		return err
	}

	serve := serveOptions{
		repeats: o.repeats, concurrency: []int{1, 4, 8},
		// GetMap answers some 40 a second: 5 s make a couple of hundred requests per
		// figure; tiles answer thousands a second.
		load:     Load{Duration: 5 * time.Second, MaxRequests: 5000},
		tileLoad: Load{Duration: 3 * time.Second, MaxRequests: 30000},
		replicas: []int{1, 2, 3}, scaleConc: 8,
		seedZoom: [2]int{5, 8}, seedRepeats: min(o.repeats, 2), seedAtReplic: 2,
	}
	noopRepeats := 5
	if o.quick {
		serve.concurrency = []int{4}
		serve.load = Load{Duration: 2 * time.Second, MaxRequests: 5000}
		serve.tileLoad = Load{Duration: 2 * time.Second, MaxRequests: 20000}
		serve.replicas = nil
		serve.seedZoom = [2]int{5, 7}
		serve.seedAtReplic = 1
		noopRepeats = 3
	}
	var errs []string
	try := func(name string, f func() error) {
		step("%s", name)
		t := time.Now()
		if err := f(); err != nil {
			step("%s: FAILED: %v", name, err)
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			r.note(name, "FAILED in this run: %v", err)
			return
		}
		step("%s: done in %s", name, time.Since(t).Round(time.Second))
	}
	if want("3") {
		try(secRender, func() error { return measureRenderPlan(ctx, r, e, max(o.repeats, 5)) })
	}
	if want("2") {
		try(secNoop, func() error { return measureNoop(ctx, r, e, noopRepeats) })
	}
	if want("4") || want("5") || want("6") {
		try(secGetMap+", "+secTiles+", "+secSeed, func() error { return measureServing(ctx, r, e, d, serve) })
	}
	if want("1") && !o.quick {
		try(secCold, func() error { return measureCold(ctx, r, e, d, o.repeats+2, logw) })
	}
	r.findings(serve.concurrency)
	r.Ended = time.Now()
	load1 := loadAvg()
	r.Machine = append(r.Machine, fmt.Sprintf("load average (1 min) at start / end: %s / %s; other containers running at the end: %s", load0, load1, otherContainers(ctx)))
	if o.quick {
		r.Machine = append(r.Machine, "--quick skips measure 1 (cold apply: several minutes per run) and the replica scaling of measure 4")
	}

	chart := strings.TrimSuffix(o.out, filepath.Ext(o.out)) + ".png"
	if err := r.Chart(chart); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	rerun := "```sh\nbash scripts/bench.sh          # full run, about 15 minutes; writes docs/benchmarks.md and docs/benchmarks.png\n" +
		"bash scripts/bench.sh --quick  # smoke run, under 3 minutes (CI runs it and checks that figures were produced)\n```\n\n" +
		"The script builds cmd/kargo-bench and runs it under the engine lock (`flock /tmp/kargo-engine.lock`). It deploys the stacks\n" +
		"`bench`, `benchqs` and `benchnoop` on host ports 38080–38091 and removes them, with their volumes, when done; every load\n" +
		"(vegeta, back-to-back requests at a fixed concurrency) is bounded in time and in requests and goes to 127.0.0.1 only.\n" +
		"Other flags: `--only 2,4` runs some measures, `--repeats N`, `--out FILE`."
	r.Markdown(f, filepath.Base(chart), rerun)
	if err := f.Close(); err != nil {
		return err
	}
	step("wrote %s and %s: %d figures", o.out, chart, r.Figures())
	if len(errs) > 0 {
		return fmt.Errorf("%d measure(s) failed: %s", len(errs), strings.Join(errs, "; "))
	}
	if r.Figures() == 0 {
		return fmt.Errorf("no figure produced")
	}
	return nil
}

// ensureImages builds Kargo's images the stacks use when missing, before anything is timed.
func ensureImages(ctx context.Context, e *engine) error {
	want := []string{images.Ref("postgis"), images.Ref("mapserver"), images.Ref("mapcache"), images.Ref("gateway")}
	ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	return (&images.Builder{Client: e.cli}).EnsureImages(ictx, want, e.log)
}

// machine describes where and what was measured.
func machine(ctx context.Context, commit string) []string {
	var m []string
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	osName := "?"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	m = append(m, fmt.Sprintf("machine: %d cores (%s), %s RAM, %s, Linux %s", cores(), cpu, mem, osName, kernel))
	ver, err := docker(ctx, 20*time.Second, "version", "--format", "engine {{.Server.Version}} (API {{.Server.APIVersion}}), CLI {{.Client.Version}}")
	if err != nil {
		ver = "?"
	}
	m = append(m, "Docker: "+strings.TrimSpace(ver)+", single-node Swarm")
	if commit == "" {
		commit = "?"
	}
	m = append(m, fmt.Sprintf("Kargo: commit %s, %s; load generator: vegeta v12.13.0 (library)", commit, runtime.Version()))
	m = append(m, "images: "+strings.Join([]string{images.Ref("postgis"), images.Ref("mapserver"), images.Ref("mapcache"), images.Ref("gateway")}, ", ")+" (built from Debian 12 packages)")
	return m
}

func cores() int { return runtime.NumCPU() }

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// otherContainers counts running containers that are not the benchmark's.
func otherContainers(ctx context.Context) string {
	out, err := docker(ctx, 20*time.Second, "ps", "--format", "{{.Names}}")
	if err != nil {
		return "?"
	}
	n := 0
	for _, name := range strings.Fields(out) {
		if !strings.HasPrefix(name, serveStack+"_") && !strings.HasPrefix(name, qsStack+"_") && !strings.HasPrefix(name, noopStack+"_") {
			n++
		}
	}
	return fmt.Sprint(n)
}

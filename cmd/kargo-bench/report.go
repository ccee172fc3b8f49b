package main

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Series is one figure measured over repeats: a time, a rate, a count.
type Series struct {
	// Key identifies the series; Base names the key of its baseline (empty: none).
	Key, Base string
	// Label is what the report calls it; Unit is the unit of Values.
	Label, Unit string
	// Values, one per repeat.
	Values []float64
	// Chart, when set, is the series' short name on the chart of ratios to baselines.
	Chart string
}

// Section is one measure of the report (one of the numbered measures).
type Section struct {
	Title string
	// Notes are printed under the table (what was compared, caveats, evidence).
	Notes  []string
	Series []*Series
}

// Report gathers every section and the facts about the run.
type Report struct {
	Started, Ended time.Time
	Quick          bool
	Machine        []string // "key: value" lines
	Sections       []*Section
	index          map[string]*Series
}

func newReport() *Report { return &Report{index: map[string]*Series{}} }

// section returns the section of that title, created on first use.
func (r *Report) section(title string) *Section {
	for _, s := range r.Sections {
		if s.Title == title {
			return s
		}
	}
	s := &Section{Title: title}
	r.Sections = append(r.Sections, s)
	return s
}

// add records one value of a series, creating it in the section on first use.
func (r *Report) add(section, key, label, unit, base, chart string, v float64) {
	if base == key {
		base = ""
	}
	s := r.index[key]
	if s == nil {
		s = &Series{Key: key, Base: base, Label: label, Unit: unit, Chart: chart}
		r.index[key] = s
		sec := r.section(section)
		sec.Series = append(sec.Series, s)
	}
	s.Values = append(s.Values, v)
}

// note adds a line under a section's table, once.
func (r *Report) note(section, format string, args ...any) {
	sec := r.section(section)
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(sec.Notes, n) {
		sec.Notes = append(sec.Notes, n)
	}
}

// sorted returns the sections in the order of their titles (numbered as in the issue).
func (r *Report) sorted() []*Section {
	s := slices.Clone(r.Sections)
	slices.SortStableFunc(s, func(a, b *Section) int { return cmp.Compare(a.Title, b.Title) })
	return s
}

// stats returns the minimum, median and maximum of vs.
func stats(vs []float64) (lo, med, hi float64) {
	if len(vs) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return s[0], med, s[n-1]
}

// ratio is the median of s over the median of its baseline; ok is false without one.
func (r *Report) ratio(s *Series) (float64, *Series, bool) {
	if s.Base == "" {
		return 0, nil, false
	}
	b := r.index[s.Base]
	if b == nil || len(b.Values) == 0 || len(s.Values) == 0 {
		return 0, b, false
	}
	_, bm, _ := stats(b.Values)
	_, sm, _ := stats(s.Values)
	if bm == 0 {
		return 0, b, false
	}
	return sm / bm, b, true
}

// Figures counts the series holding at least one value.
func (r *Report) Figures() int {
	n := 0
	for _, s := range r.index {
		if len(s.Values) > 0 {
			n++
		}
	}
	return n
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v == math.Trunc(v) && math.Abs(v) < 1e9:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// Markdown writes the report.
func (r *Report) Markdown(w io.Writer, chart, rerun string) {
	fmt.Fprintln(w, "# Benchmarks")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Measured by `scripts/bench.sh` on the local single-node Swarm: every figure is taken side by side")
	fmt.Fprintln(w, "with its baseline in the same run, over repeats (min, median, max), and only against 127.0.0.1.")
	fmt.Fprintln(w, "The ratio is the median of the figure over the median of its baseline: for times and latencies")
	fmt.Fprintln(w, "below 1 is faster than the baseline, for rates (req/s, tiles/s) above 1 is faster.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## How to rerun")
	fmt.Fprintln(w)
	fmt.Fprintln(w, rerun)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## This run")
	fmt.Fprintln(w)
	mode := "full"
	if r.Quick {
		mode = "quick (--quick: one repeat, short loads, a subset of the measures)"
	}
	fmt.Fprintf(w, "- date: %s (took %s)\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Ended.Sub(r.Started).Round(time.Second))
	fmt.Fprintf(w, "- mode: %s\n", mode)
	for _, m := range r.Machine {
		fmt.Fprintf(w, "- %s\n", m)
	}
	fmt.Fprintln(w)
	if chart != "" {
		fmt.Fprintf(w, "![ratio of each figure to its baseline](%s)\n\n", chart)
	}
	for _, sec := range r.sorted() {
		fmt.Fprintf(w, "## %s\n\n", sec.Title)
		if len(sec.Series) > 0 {
			fmt.Fprintln(w, "| figure | unit | median | min | max | n | baseline | ratio |")
			fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |")
			for _, s := range sec.Series {
				lo, med, hi := stats(s.Values)
				base, rat := "", ""
				if q, b, ok := r.ratio(s); ok {
					base, rat = b.Label, fmt.Sprintf("%.2f", q)
				} else if b != nil {
					base = b.Label
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %s | %s |\n", s.Label, s.Unit, num(med), num(lo), num(hi), len(s.Values), base, rat)
			}
			fmt.Fprintln(w)
		}
		for _, n := range sec.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
		if len(sec.Notes) > 0 {
			fmt.Fprintln(w)
		}
	}
}

// Chart draws the ratio of every charted series to its baseline as a bar chart (PNG).
func (r *Report) Chart(path string) error {
	var vals plotter.Values
	var names []string
	for _, sec := range r.sorted() {
		for _, s := range sec.Series {
			if s.Chart == "" {
				continue
			}
			q, _, ok := r.ratio(s)
			if !ok {
				continue
			}
			vals = append(vals, q)
			names = append(names, s.Chart)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = "Kargo benchmarks: median of each figure / median of its baseline in the same run\n(times: below 1 is faster; rates: above 1 is faster)"
	p.Y.Label.Text = "ratio to baseline"
	bars, err := plotter.NewBarChart(vals, vg.Points(14))
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	p.Add(bars)
	bars.Color = color.RGBA{R: 43, G: 131, B: 186, A: 255}
	bars.LineStyle.Width = 0
	one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(vals)) - 0.5, Y: 1}})
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(one)
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign = -1 // text.XRight after rotation reads from the axis downwards
	p.X.Tick.Label.YAlign = -0.5
	p.Y.Min = 0
	w := vg.Length(math.Max(8, 0.35*float64(len(vals)))) * vg.Inch
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := p.Save(w, 7*vg.Inch, path); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// median returns the median of a series, if it was measured.
func (r *Report) median(key string) (float64, bool) {
	s := r.index[key]
	if s == nil || len(s.Values) == 0 {
		return 0, false
	}
	_, m, _ := stats(s.Values)
	return m, true
}

// findings states, from this run's medians, what the goals compare: tiles against the
// static-file ceiling, the gateway's overhead on GetMap, cold apply against docker stack deploy.
func (r *Report) findings(concurrency []int) {
	for _, c := range concurrency {
		st, ok := r.median(fmt.Sprintf("tiles/static/c%d/rps", c))
		if !ok || st == 0 {
			continue
		}
		var parts []string
		for _, t := range []struct{ key, what string }{
			{"tile", "the cached tile through the gateway"},
			{"tile304", "the same with If-None-Match (304)"},
			{"tms", "the same tile in TMS (MapCache behind the gateway)"},
			{"plain", "the same tile through a plain reverse_proxy route"},
			{"mapcache", "the tile straight from MapCache (no gateway)"},
			{"healthz", "the gateway's fixed /healthz answer"},
		} {
			if v, ok := r.median(fmt.Sprintf("tiles/%s/c%d/rps", t.key, c)); ok {
				parts = append(parts, fmt.Sprintf("%s %.2f", t.what, v/st))
			}
		}
		r.note(secTiles, "Finding, c=%d, throughput as a share of the static file's (%.0f req/s) through the same gateway: %s.", c, st, strings.Join(parts, "; "))
	}
	for _, c := range concurrency {
		d, ok1 := r.median(fmt.Sprintf("getmap/direct/c%d/rps", c))
		g, ok2 := r.median(fmt.Sprintf("getmap/gateway/c%d/rps", c))
		dp, ok3 := r.median(fmt.Sprintf("getmap/direct/c%d/p50", c))
		gp, ok4 := r.median(fmt.Sprintf("getmap/gateway/c%d/p50", c))
		if ok1 && ok2 && ok3 && ok4 && d > 0 {
			r.note(secGetMap, "Finding, c=%d: through the gateway %.1f req/s vs %.1f direct (%+.1f %%), p50 %.1f ms vs %.1f ms (%+.1f ms).", c, g, d, 100*(g-d)/d, gp, dp, gp-dp)
		}
	}
	ka, ok1 := r.median("cold-kargo-answer")
	sa, ok2 := r.median("cold-stack-answer")
	kr, ok3 := r.median("cold-kargo-return")
	sr, ok4 := r.median("cold-stack-return")
	if ok1 && ok2 && ok3 && ok4 && sa > 0 && sr > 0 {
		r.note(secCold, "Finding: the quickstart answers after %.1f s with kargo apply vs %.1f s with docker stack deploy (%.2f×); the tools return after %.1f s vs %.1f s.", ka, sa, ka/sa, kr, sr)
	}
}

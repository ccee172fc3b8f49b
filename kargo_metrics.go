package kargo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kalisio/kargo/services/monitoring"
	"github.com/kalisio/kargo/stack"
	"github.com/spf13/cobra"
)

func (c *cli) metricsCmd() *cobra.Command {
	var base string
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Print the gateway's request and error rates, each watched service's tasks and request rate and the firing alerts, from the stack's Prometheus",
		Long: "Print the gateway's request and error rates, each watched service's tasks (and request rate, for\n" +
			"MapServer and MapCache, from the Apache exporter beside them) and the firing alerts,\n" +
			"from the stack's Prometheus (services/monitoring), reached through the gateway's published HTTP port\n" +
			"(or --url, e.g. http://user:password@host:8080/prometheus when the gateway asks for credentials).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if base == "" {
				u, err := c.prometheusURL()
				if err != nil {
					return err
				}
				base = u
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			return c.printMetrics(ctx, strings.TrimSuffix(base, "/"))
		},
	}
	cmd.Flags().StringVar(&base, "url", os.Getenv("KARGO_PROMETHEUS_URL"), "Prometheus' base URL (default: through the stack's gateway)")
	return cmd
}

// prometheusURL is Prometheus' address through the gateway that routes to it, on the host
// where the engine publishes ports.
func (c *cli) prometheusURL() (string, error) {
	var prom *stack.Service
	for _, s := range c.st.Services {
		if s != nil && s.Labels[stack.LabelRole] == "prometheus" {
			prom = s
		}
	}
	if prom == nil {
		return "", &UsageError{Err: fmt.Errorf("stack %q has no Prometheus (add services/monitoring)", c.st.Name)}
	}
	gw := c.st.Service(prom.Labels[monitoring.LabelGateway])
	if gw == nil {
		return "", &UsageError{Err: fmt.Errorf("stack %q: Prometheus is routed by no gateway: give --url", c.st.Name)}
	}
	for _, p := range gw.Ports {
		if p.Target == 80 {
			published := p.Published
			if published == 0 {
				published = p.Target
			}
			host := "127.0.0.1"
			if e, err := c.o.Engine(); err == nil {
				if dh, ok := e.(interface{ DaemonHost() string }); ok {
					host = probeHost(dh.DaemonHost())
				}
			}
			return fmt.Sprintf("http://%s:%d%s", host, published, monitoring.PathPrefix), nil
		}
	}
	return "", &UsageError{Err: fmt.Errorf("stack %q: gateway %q publishes no HTTP port: give --url", c.st.Name, gw.Name)}
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promQuery runs an instant query and returns its samples.
func promQuery(ctx context.Context, base, q string) ([]promSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("prometheus: %s: %w", resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("prometheus: query %q: %s %s", q, resp.Status, body.Error)
	}
	return body.Data.Result, nil
}

func sampleValue(s promSample) float64 {
	str, _ := s.Value[1].(string)
	v, _ := strconv.ParseFloat(str, 64)
	return v
}

func (c *cli) printMetrics(ctx context.Context, base string) error {
	scalar := func(q string) (float64, error) {
		r, err := promQuery(ctx, base, q)
		if err != nil || len(r) == 0 {
			return 0, err
		}
		return sampleValue(r[0]), nil
	}
	reqs, err := scalar(`sum(rate(caddy_http_request_duration_seconds_count[1m]))`)
	if err != nil {
		return err
	}
	errs5, err := scalar(`sum(rate(caddy_http_request_duration_seconds_count{code=~"5.."}[1m]))`)
	if err != nil {
		return err
	}
	errs4, err := scalar(`sum(rate(caddy_http_request_duration_seconds_count{code=~"4.."}[1m]))`)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.o.Stdout, "gateway: %.2f req/s, %.2f 5xx/s, %.2f 4xx/s (last minute)\n", reqs, errs5, errs4)

	up, err := promQuery(ctx, base, `count by (service) (probe_success == 1)`)
	if err != nil {
		return err
	}
	all, err := promQuery(ctx, base, `count by (service) (probe_success)`)
	if err != nil {
		return err
	}
	lat, err := promQuery(ctx, base, `avg by (service) (avg_over_time(probe_duration_seconds[1m]))`)
	if err != nil {
		return err
	}
	// Requests per service, from the Apache exporter beside MapServer's and MapCache's Apache.
	served, err := promQuery(ctx, base, `sum by (service) (rate(apache_accesses_total[1m]))`)
	if err != nil {
		return err
	}
	rate := map[string]float64{}
	for _, s := range served {
		rate[s.Metric["service"]] = sampleValue(s)
	}
	rows := map[string][3]float64{}
	for i, set := range [][]promSample{up, all, lat} {
		for _, s := range set {
			r := rows[s.Metric["service"]]
			r[i] = sampleValue(s)
			rows[s.Metric["service"]] = r
		}
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(c.o.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tTASKS ANSWERING\tDESIRED\tPROBE (avg)\tREQUESTS")
	for _, n := range names {
		desired := "?"
		if s := c.st.Service(n); s != nil {
			desired = "1"
			if s.Replicas != nil {
				desired = strconv.FormatUint(*s.Replicas, 10)
			}
		}
		r := rows[n]
		reqs := "-"
		if v, ok := rate[n]; ok {
			reqs = fmt.Sprintf("%.2f/s", v)
		}
		fmt.Fprintf(tw, "%s\t%.0f/%.0f\t%s\t%.0f ms\t%s\n", n, r[0], r[1], desired, r[2]*1000, reqs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	alerts, err := promQuery(ctx, base, `ALERTS{alertstate="firing"}`)
	if err != nil {
		return err
	}
	if len(alerts) == 0 {
		fmt.Fprintln(c.o.Stdout, "alerts: none firing")
	}
	for _, a := range alerts {
		what := a.Metric["service"]
		if what == "" {
			what = a.Metric["instance"]
		}
		fmt.Fprintf(c.o.Stdout, "alert firing: %s %s\n", a.Metric["alertname"], what)
	}
	return nil
}

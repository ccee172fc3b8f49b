package monitoring_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/kalisio/kargo/internal/socketproxy"
	"github.com/kalisio/kargo/kargotest"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/monitoring"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
)

func TestMonitoringServices(t *testing.T) {
	st := monStack()
	require.NoError(t, st.Validate())
	r := kargotest.Render(t, st)
	for _, name := range []string{"prometheus", "prometheus-node", "prometheus-blackbox", "prometheus-postgres"} {
		s := r.Service(name)
		assert.Equal(t, "kargo/monitoring:2.42", s.Image(), name)
		assert.NotNil(t, s.Health(), "%s has a health check", name)
		assert.NotZero(t, s.MemoryLimit(), name)
		assert.NotZero(t, s.CPULimit(), name)
		assert.NotEqual(t, "", s.Spec().TaskTemplate.ContainerSpec.User, "%s runs as an unprivileged user", name)
	}
	assert.Equal(t, stack.Global, r.Service("prometheus-node").Mode())
	assert.Equal(t, "db-backup", r.Service("prometheus-node").Mount("/textfile").Source[len(itStack)+1:], "node-exporter reads the backup's result")
	for _, m := range r.Service("prometheus-node").Mounts() {
		assert.True(t, m.ReadOnly, "node-exporter mounts %s read-only", m.Target)
	}
	pg := r.Service("prometheus-postgres")
	assert.Equal(t, "/run/secrets/db-password", pg.Env("DATA_SOURCE_PASS_FILE"))
	assert.Equal(t, "db:5432/gis?sslmode=disable", pg.Env("DATA_SOURCE_URI"))
	assert.False(t, pg.HasEnv("DATA_SOURCE_PASS"))
	// Nothing of the monitoring but its socket proxy mounts the Docker socket; Prometheus
	// reaches the proxy on an internal network that only the two of them join.
	for _, name := range []string{"prometheus", "prometheus-node", "prometheus-blackbox", "prometheus-postgres"} {
		for _, m := range r.Service(name).Mounts() {
			assert.NotContains(t, m.Source, "docker.sock", name)
		}
	}
	proxy := st.Service("prometheus-proxy")
	require.NotNil(t, proxy, "the monitoring has its socket proxy")
	assert.Equal(t, socketproxy.ProfileDiscovery, proxy.Env["KARGO_PROXY_PROFILE"])
	assert.Equal(t, socketproxy.ProfileDiscovery, proxy.Labels[scheduler.LabelProxyProfile])
	assert.NotNil(t, proxy.Health)
	assert.NotZero(t, proxy.Resources.MemoryLimit)
	assert.Equal(t, []string{"prometheus-engine"}, proxy.Networks)
	var engineNet *stack.Network
	for i, n := range proxy.Declares.Networks {
		if n.Name == "prometheus-engine" {
			engineNet = &proxy.Declares.Networks[i]
		}
	}
	require.NotNil(t, engineNet)
	assert.True(t, engineNet.Internal)
	assert.False(t, *engineNet.Attachable)
	for _, s := range st.Services {
		if slices.Contains(s.Networks, "prometheus-engine") {
			assert.Contains(t, []string{"prometheus", "prometheus-proxy"}, s.Name, "only Prometheus joins the proxy's network")
		}
	}
	assert.ElementsMatch(t, []string{stack.DefaultNetwork, "prometheus-engine"}, st.Service("prometheus").Networks)
	// The gateway routes /prometheus and serves its metrics.
	gw := st.Service("gateway")
	caddy := string(gw.Declares.Configs[0].Data)
	assert.Contains(t, caddy, "dynamic a tasks.prometheus 9090")
	assert.Contains(t, caddy, ":9180 {\n\tmetrics\n}")
	assert.Contains(t, caddy, "\tservers {\n\t\tmetrics\n\t}", "Caddy 2.6 counts requests only when asked")
}

func TestPrometheusConfigAndRules(t *testing.T) {
	st := monStack()
	p := st.Service("prometheus")
	var conf, rules string
	for _, c := range p.Declares.Configs {
		switch c.Name {
		case "prometheus-config":
			conf = string(c.Data)
		case "prometheus-rules":
			rules = string(c.Data)
		}
	}
	for _, s := range []string{
		"scrape_interval: 2s",
		// Each job keeps its service's tasks on Prometheus' network, at its port, and names
		// the service.
		`regex: "mapserver"` + "\n        action: keep",
		`regex: "prometheus-postgres"` + "\n        action: keep",
		"      - source_labels: [__meta_dockerswarm_network_label_io_kargo_name]\n        regex: \"default\"\n        action: keep",
		`regex: "gateway"` + "\n        action: keep",
		`replacement: "${1}:9180"`,
		"      - source_labels: [__meta_dockerswarm_service_label_io_kargo_name]\n        target_label: service",
		`replacement: "http://${1}/wms?SERVICE=WMS&REQUEST=GetCapabilities"`,
		`metrics_path: "/prometheus/metrics"`,
	} {
		assert.Contains(t, conf, s)
	}
	assert.NotContains(t, conf, "dns_sd_configs")
	// Every job discovers through the same config (Prometheus runs one discovery for all):
	// the proxy, role tasks, running tasks only.
	sd := "    dockerswarm_sd_configs:\n      - host: \"tcp://prometheus-proxy:2375\"\n        role: tasks\n        port: 80\n" +
		"        refresh_interval: 2s\n        filters:\n          - name: desired-state\n            values: [\"running\"]\n"
	assert.Equal(t, 7, strings.Count(conf, "job_name:")-1, "jobs besides Prometheus' own")
	assert.Equal(t, 7, strings.Count(conf, sd))
	// MapServer's image runs the Apache exporter: its tasks are scraped there too.
	assert.Contains(t, conf, "  - job_name: \"apache-mapserver\"\n")
	assert.Contains(t, conf, `replacement: "${1}:9117"`)
	assert.Contains(t, conf, "  - job_name: \"scheduler\"\n    honor_labels: true\n", "the scheduler's series keep their job's service label")
	var parsed struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
			SD      []struct {
				Host, Role string
			} `yaml:"dockerswarm_sd_configs"`
			Relabel []map[string]any `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(conf), &parsed))
	require.Len(t, parsed.ScrapeConfigs, 8)
	for _, j := range parsed.ScrapeConfigs[1:] {
		assert.Equal(t, "tasks", j.SD[0].Role, j.JobName)
		assert.NotEmpty(t, j.Relabel, j.JobName)
	}
	for _, s := range []string{
		`alert: KargoReplicasBelowDesired` + "\n" + `        expr: "(count(probe_success{job=\"task-mapserver\"} == 1) or vector(0)) < 2"` + "\n        for: 4s",
		"alert: KargoTaskFailing", "alert: KargoGateway5xx", "alert: KargoPostGISDown", "alert: KargoTargetDown",
		"alert: KargoBackupFailed",
		// The backup runs daily: late after a day and a half.
		`alert: KargoBackupTooOld` + "\n" + `        expr: "time() - max(kargo_backup_last_success_timestamp_seconds) > 129600"`,
		`alert: KargoScheduledJobLate` + "\n" + `        expr: "time() - max(kargo_backup_last_run_timestamp_seconds) > 129600"`,
		// Other scheduled jobs: the backup has its own failure alert.
		`alert: KargoScheduledJobFailed` + "\n" + `        expr: "kargo_job_last_run_success{service!=\"db-backup\"} == 0"`,
		`alert: KargoScheduledJobMissedRun` + "\n" + `        expr: "kargo_job_due_timestamp_seconds > kargo_job_last_run_timestamp_seconds"`,
		`alert: KargoSchedulerDown` + "\n" + `        expr: "absent(up{job=\"scheduler\"} == 1)"`,
	} {
		assert.Contains(t, rules, s)
	}
	assert.Contains(t, strings.Join(p.Command, " "), "--web.route-prefix=/prometheus")
}

func TestApacheExporterOnlyForKargoApacheImages(t *testing.T) {
	ep := []stack.Endpoint{{Kind: stack.HTTP, Port: 80, Path: "/"}}
	var watch []*stack.Service
	for name, image := range map[string]string{
		"ms": "kargo/mapserver:8.0", "mc": "10.199.0.1:5000/kargo/mapcache:1.14", "web": "nginx:1.25", "fake": "someone/kargo-mapserver:1",
	} {
		watch = append(watch, &stack.Service{Name: name, Image: image, Endpoints: ep})
	}
	m := monitoring.New(monitoring.Config{Watch: watch})
	conf := string(m.Prometheus.Declares.Configs[0].Data)
	for name, want := range map[string]bool{"ms": true, "mc": true, "web": false, "fake": false} {
		assert.Equal(t, want, strings.Contains(conf, `job_name: "apache-`+name+`"`), name)
	}
}

func TestProblems(t *testing.T) {
	job := &stack.Service{Name: "job", Image: "x", Mode: stack.ReplicatedJob, Endpoints: []stack.Endpoint{{Kind: stack.HTTP, Port: 80, Path: "/"}}}
	m := monitoring.New(monitoring.Config{Watch: []*stack.Service{nil, {Name: "bare", Image: "x"}, job}, ScrapeInterval: time.Millisecond})
	err := stack.New("s", m).Validate()
	require.Error(t, err)
	for _, s := range []string{"config.watch[0]", "config.watch[1]", "config.watch[2]", "config.scrapeInterval"} {
		assert.Contains(t, err.Error(), s)
	}
}

func TestGatewayWithoutMetricsServesNone(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}})
	ms := mapserver.New(mapserver.Config{Common: builder.Common{Name: "ms"}, Database: db, Maps: []mapserver.Map{{Name: "m", Layers: []mapserver.Layer{{Name: "l", Type: mapserver.Point, Table: "t"}}}}})
	gw := gateway.New(gateway.Config{Routes: gateway.OGC(ms)})
	assert.NotContains(t, string(gw.Declares.Configs[0].Data), "metrics")
}

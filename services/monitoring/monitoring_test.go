package monitoring_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalisio/kargo/kargotest"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/monitoring"
	"github.com/kalisio/kargo/services/postgis"
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
	// Nothing of the monitoring needs the Docker socket.
	for _, name := range []string{"prometheus", "prometheus-node", "prometheus-blackbox", "prometheus-postgres"} {
		for _, m := range r.Service(name).Mounts() {
			assert.NotContains(t, m.Source, "docker.sock", name)
		}
	}
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
		`- names: ["tasks.mapserver"]`,
		`replacement: "http://${1}/wms?SERVICE=WMS&REQUEST=GetCapabilities"`,
		`- names: ["tasks.gateway"]` + "\n        type: A\n        port: 9180",
		`- names: ["tasks.prometheus-postgres"]`,
		`metrics_path: "/prometheus/metrics"`,
	} {
		assert.Contains(t, conf, s)
	}
	for _, s := range []string{
		`alert: KargoReplicasBelowDesired` + "\n" + `        expr: "(count(probe_success{job=\"task-mapserver\"} == 1) or vector(0)) < 2"` + "\n        for: 4s",
		"alert: KargoTaskFailing", "alert: KargoGateway5xx", "alert: KargoPostGISDown", "alert: KargoTargetDown",
		"alert: KargoBackupFailed",
		// The backup runs daily: late after a day and a half.
		`alert: KargoBackupTooOld` + "\n" + `        expr: "time() - max(kargo_backup_last_success_timestamp_seconds) > 129600"`,
		`alert: KargoScheduledJobLate` + "\n" + `        expr: "time() - max(kargo_backup_last_run_timestamp_seconds) > 129600"`,
	} {
		assert.Contains(t, rules, s)
	}
	assert.Contains(t, strings.Join(p.Command, " "), "--web.route-prefix=/prometheus")
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

package kargo_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/pgbackup"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
)

func TestBackupAndRestoreNeedABackupJob(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{"backup"}, {"restore"}} {
		_, _, err := c.run(mapsStack(), args...)
		require.Error(t, err, args)
		assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err))
		assert.Contains(t, err.Error(), `stack "maps" has no backup job`)
	}
	assert.Zero(t, c.opened, "no engine contacted")
}

func TestRestoreRefusesAPath(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}})
	st := stack.New("maps", db, pgbackup.New(pgbackup.Config{Database: db}))
	c := newCLI(t)
	_, _, err := c.run(st, "restore", "../etc/passwd")
	require.Error(t, err)
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err))
	_, _, err = c.run(st, "backup", "--job", "other")
	assert.Contains(t, err.Error(), `no backup job "other"`)
	_, _, err = c.run(st, "backup")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `service "db-backup"`)
	assert.Equal(t, kargo.ExitFailure, kargo.ExitCode(err))
}

func TestMetricsFromPrometheus(t *testing.T) {
	answers := map[string]string{
		`sum(rate(caddy_http_request_duration_seconds_count[1m]))`:              `[{"metric":{},"value":[1,"12.5"]}]`,
		`sum(rate(caddy_http_request_duration_seconds_count{code=~"5.."}[1m]))`: `[{"metric":{},"value":[1,"0.25"]}]`,
		`sum(rate(caddy_http_request_duration_seconds_count{code=~"4.."}[1m]))`: `[]`,
		`count by (service) (probe_success == 1)`:                               `[{"metric":{"service":"mapserver"},"value":[1,"1"]}]`,
		`count by (service) (probe_success)`:                                    `[{"metric":{"service":"mapserver"},"value":[1,"2"]}]`,
		`avg by (service) (avg_over_time(probe_duration_seconds[1m]))`:          `[{"metric":{"service":"mapserver"},"value":[1,"0.012"]}]`,
		`ALERTS{alertstate="firing"}`:                                           `[{"metric":{"alertname":"KargoReplicasBelowDesired","service":"mapserver"},"value":[1,"1"]}]`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, ok := answers[r.URL.Query().Get("query")]
		if r.URL.Path != "/prometheus/api/v1/query" || !ok {
			http.Error(w, `{"status":"error","error":"unexpected"}`, 400)
			return
		}
		w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":` + res + `}}`))
	}))
	defer srv.Close()
	c := newCLI(t)
	out, _, err := c.run(mapsStack(), "metrics", "--url", srv.URL+"/prometheus")
	require.NoError(t, err)
	assert.Contains(t, out, "gateway: 12.50 req/s, 0.25 5xx/s, 0.00 4xx/s")
	assert.Regexp(t, `mapserver\s+1/2\s+2\s+12 ms`, out)
	assert.Contains(t, out, "alert firing: KargoReplicasBelowDesired mapserver")

	_, _, err = c.run(mapsStack(), "metrics")
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "has no Prometheus"), err)
}

package kargo_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
		`sum by (service) (rate(apache_accesses_total[1m]))`:                    `[{"metric":{"service":"mapserver"},"value":[1,"3.5"]}]`,
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
	assert.Regexp(t, `mapserver\s+1/2\s+2\s+12 ms\s+3.50/s`, out)
	assert.Contains(t, out, "alert firing: KargoReplicasBelowDesired mapserver")

	_, _, err = c.run(mapsStack(), "metrics")
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "has no Prometheus"), err)
}

func TestStatusJSONHasTheBackup(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}})
	st := stack.New("maps", db, pgbackup.New(pgbackup.Config{Database: db, Schedule: "0 0 3 * * *"}))
	c := newCLI(t)
	_, _, err := c.run(st, "apply")
	require.NoError(t, err)
	c.engine.Logs["maps_db-backup"] = "" +
		pgbackup.ResultPrefix + `{"op":"backup","result":"succeeded","name":"gis-20260101T030000Z.dump","size":2048,"seconds":1,"time":"2026-01-01T03:00:01Z","database":"gis","message":"kept 7"}` + "\n" +
		pgbackup.ResultPrefix + `{"op":"backup","result":"failed","name":"","size":0,"seconds":1,"time":"2026-01-02T03:00:01Z","database":"gis","message":"pg_dump: connection refused"}` + "\n"

	out, _, err := c.run(st, "status", "-o", "json")
	require.NoError(t, err)
	var sts []struct {
		Name   string              `json:"name"`
		Backup *kargo.BackupStatus `json:"backup"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &sts), out)
	var found *kargo.BackupStatus
	for _, s := range sts {
		if s.Name == "maps_db-backup" {
			found = s.Backup
		} else {
			assert.Nil(t, s.Backup, "%s is no backup job", s.Name)
		}
	}
	require.NotNil(t, found, out)
	assert.Equal(t, kargo.BackupStatus{Job: "db-backup", LastDump: "gis-20260101T030000Z.dump", LastDumpSize: 2048,
		LastDumpTime: "2026-01-01T03:00:01Z", LastResult: "failed", LastRunTime: "2026-01-02T03:00:01Z",
		LastMessage: "pg_dump: connection refused", NextRun: found.NextRun}, *found)

	text, _, err := c.run(st, "status")
	require.NoError(t, err)
	assert.Contains(t, text, "backup db-backup: last dump gis-20260101T030000Z.dump (2.0 KiB) at 2026-01-01T03:00:01Z")
	assert.Contains(t, text, "backup db-backup: last run FAILED at 2026-01-02T03:00:01Z: pg_dump: connection refused")
}

func TestRestoreFromChecksTheFile(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}})
	st := stack.New("maps", db, pgbackup.New(pgbackup.Config{Database: db}))
	c := newCLI(t)
	_, _, err := c.run(st, "restore", "gis-20260101T030000Z.dump", "--from", "x.dump")
	require.Error(t, err)
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err))

	notDump := filepath.Join(t.TempDir(), "notes.txt")
	require.NoError(t, os.WriteFile(notDump, []byte("SELECT 1;\n"), 0o600))
	_, _, err = c.run(st, "restore", "--from", notDump)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a pg_dump custom-format archive")
	_, _, err = c.run(st, "restore", "--from", filepath.Join(t.TempDir(), "missing.dump"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.dump")
	assert.Empty(t, c.engine.Services(), "nothing created nor scaled")
}

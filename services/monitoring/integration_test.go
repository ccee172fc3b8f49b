package monitoring_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/internal/enginetest"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/monitoring"
	"github.com/kalisio/kargo/services/pgbackup"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

const (
	itStack = "kxmon"
	itPort  = 28392
)

var prom = fmt.Sprintf("http://127.0.0.1:%d/prometheus", itPort)

func monStack() *stack.Stack {
	db := postgis.New(postgis.Config{
		Common:   builder.Common{Name: "db", Resources: stack.Resources{CPULimit: 1, MemoryLimit: 512 * stack.MiB, MemoryReservation: 64 * stack.MiB}},
		Database: "gis",
		User:     "gis",
		InitSQL:  "CREATE TABLE points (id integer PRIMARY KEY, geom geometry(Point, 4326));"})
	ms := mapserver.New(mapserver.Config{
		Common:   builder.Common{Name: "mapserver", Replicas: 2},
		Database: db,
		Maps: []mapserver.Map{{
			Name: "points", Extent: mapserver.Extent{-5, 41, 10, 52},
			Layers: []mapserver.Layer{{Name: "points", Type: mapserver.Point, Table: "points"}},
		}}})
	backup := pgbackup.New(pgbackup.Config{Database: db, Schedule: "0 0 3 * * *"})
	mon := monitoring.New(monitoring.Config{Database: db, Watch: []*stack.Service{ms}, Gateway: "gateway", Backup: backup,
		Scheduler: scheduler.DefaultName, ScrapeInterval: 2 * time.Second})
	gw := gateway.New(gateway.Config{HTTPPort: itPort, Metrics: true, Routes: append(gateway.OGC(ms), mon.Route())})
	return stack.New(itStack, db, ms, gw, backup, mon, scheduler.New(scheduler.Config{Metrics: true}))
}

// TestMonitoringOnSwarm applies a stack with its monitoring and checks that Prometheus,
// through the gateway, has every target up, that the gateway's request counter follows the
// traffic, and that stopping MapServer's tasks fires KargoReplicasBelowDesired.
func TestMonitoringOnSwarm(t *testing.T) {
	enginetest.Require(t)
	a := enginetest.Applier(t)
	enginetest.Cleanup(t, a, itStack)
	st := monStack()
	start := time.Now()
	enginetest.Apply(t, a, st, swarmx.ApplyOptions{})
	t.Logf("apply: %s", time.Since(start).Round(time.Second))

	// Every target up: Prometheus itself, node, blackbox, gateway, postgres, and the two
	// MapServer tasks probed.
	// Targets up, by job and the service label the discovery gave them.
	want := map[string]int{"prometheus ": 1, "node prometheus-node": 1, "blackbox prometheus-blackbox": 1, "gateway gateway": 1,
		"postgres prometheus-postgres": 1, "task-mapserver mapserver": 2, "apache-mapserver mapserver": 2, "scheduler scheduler": 1}
	var got map[string]int
	start = time.Now()
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(time.Second) {
		got = upTargets(t)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("targets up per job: %v, want %v", got, want)
	}
	t.Logf("every target up after %s", time.Since(start).Round(time.Second))
	if v := query(t, `pg_up`); v != 1 {
		t.Errorf("pg_up = %v, want 1", v)
	}

	// A backup: node-exporter reads its result from the backup volume.
	if err := kargo.Run(context.Background(), []string{"backup"}, st, kargo.Options{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}); err != nil {
		t.Fatalf("backup: %v", err)
	}
	ok := 0.0
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end) && ok != 1; time.Sleep(time.Second) {
		ok = query(t, `kargo_backup_last_run_success{database="gis"}`)
	}
	if ok != 1 {
		t.Errorf("kargo_backup_last_run_success = %v after a backup, want 1", ok)
	}
	if age := query(t, `time() - kargo_backup_last_success_timestamp_seconds`); age < 0 || age > 120 {
		t.Errorf("the last dump is %vs old, want a fresh one", age)
	}

	// The gateway's counter follows the traffic.
	// The scheduler's figures of the backup job, under the job's name.
	runs := 0.0
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end) && runs < 1; time.Sleep(time.Second) {
		runs = query(t, `kargo_job_runs_total{job="scheduler",service="db-backup"}`)
	}
	if runs < 1 || query(t, `kargo_job_last_run_success{service="db-backup"}`) != 1 {
		t.Errorf("the scheduler's metrics of db-backup: %v runs, success %v; want a successful run",
			runs, query(t, `kargo_job_last_run_success{service="db-backup"}`))
	}

	const counter = `sum(caddy_http_request_duration_seconds_count)`
	const served = `sum(apache_accesses_total{service="mapserver"})`
	before, servedBefore := query(t, counter), query(t, served)
	for i := 0; i < 40; i++ {
		enginetest.Get(t, fmt.Sprintf("http://127.0.0.1:%d/wms?SERVICE=WMS&REQUEST=GetCapabilities", itPort), 30*time.Second)
	}
	after := before
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end) && after < before+40; time.Sleep(time.Second) {
		after = query(t, counter)
	}
	if after < before+40 {
		t.Errorf("gateway requests counter %v → %v after 40 requests", before, after)
	}
	t.Logf("gateway requests counter %v → %v after 40 requests", before, after)
	// MapServer's Apache counted them too (with the probes and health checks).
	servedAfter := servedBefore
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end) && servedAfter < servedBefore+40; time.Sleep(time.Second) {
		servedAfter = query(t, served)
	}
	if servedAfter < servedBefore+40 {
		t.Errorf("MapServer's Apache accesses %v → %v after 40 requests", servedBefore, servedAfter)
	}
	t.Logf("MapServer's Apache accesses %v → %v after 40 requests", servedBefore, servedAfter)

	var out bytes.Buffer
	if err := kargo.Run(context.Background(), []string{"metrics"}, st, kargo.Options{Stdout: &out}); err != nil {
		t.Fatalf("metrics: %v", err)
	}
	t.Logf("kargo metrics:\n%s", out.String())
	if regexp.MustCompile(`mapserver\s+2/2\s+2\s+\d+ ms\s+[0-9.]+/s`).FindString(out.String()) == "" {
		t.Errorf("metrics output lacks MapServer's request rate")
	}
	for _, s := range []string{"gateway: ", "mapserver  2/2  2", "alerts: none firing"} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(s), " ")) {
			t.Errorf("metrics output lacks %q", s)
		}
	}

	// MapServer's tasks stop: the alert fires.
	enginetest.Docker(t, "service", "scale", "-d", itStack+"_mapserver=0")
	start = time.Now()
	firing := false
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end) && !firing; time.Sleep(time.Second) {
		firing = alertFiring(t, "KargoReplicasBelowDesired", "mapserver")
	}
	if !firing {
		t.Fatal("KargoReplicasBelowDesired did not fire for mapserver within 2 minutes of scaling it to 0")
	}
	t.Logf("KargoReplicasBelowDesired firing %s after MapServer was scaled to 0", time.Since(start).Round(time.Second))

	// A scheduled job that fails: the scheduler's metrics say so and the alert fires.
	flaky := &stack.Service{Name: "flaky", Image: "debian:bookworm-slim", Mode: stack.ReplicatedJob, Schedule: "*/10 * * * * *",
		Command: []string{"sh", "-c", "exit 3"}, Restart: &stack.RestartPolicy{Condition: "none"},
		Resources: stack.Resources{CPULimit: 0.1, MemoryLimit: 16 * stack.MiB}}
	// Without waiting: the apply would report the job's failure, which is the point here.
	enginetest.Apply(t, a, monStack().Add(flaky), swarmx.ApplyOptions{NoWait: true})
	start = time.Now()
	firing = false
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end) && !firing; time.Sleep(time.Second) {
		firing = alertFiring(t, "KargoScheduledJobFailed", "flaky")
	}
	if !firing {
		t.Fatalf("KargoScheduledJobFailed did not fire for a job that exits 3 within 2 minutes (kargo_job_last_run_success = %v)",
			query(t, `kargo_job_last_run_success{service="flaky"}`))
	}
	t.Logf("KargoScheduledJobFailed firing %s after a failing job every 10 s was applied", time.Since(start).Round(time.Second))
	if alertFiring(t, "KargoScheduledJobFailed", "db-backup") {
		t.Error("KargoScheduledJobFailed fires for the backup, whose failures have their own alert")
	}
}

func get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(prom + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %s: %v", path, resp.Status, err)
	}
}

func upTargets(t *testing.T) map[string]int {
	var body struct {
		Data struct {
			ActiveTargets []struct {
				Labels map[string]string `json:"labels"`
				Health string            `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	enginetest.Get(t, prom+"/-/ready", 2*time.Minute)
	get(t, "/api/v1/targets", &body)
	up := map[string]int{}
	for _, tg := range body.Data.ActiveTargets {
		if tg.Health == "up" {
			up[tg.Labels["job"]+" "+tg.Labels["service"]]++
		}
	}
	return up
}

func query(t *testing.T, q string) float64 {
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	get(t, "/api/v1/query?query="+url.QueryEscape(q), &body)
	if len(body.Data.Result) == 0 {
		return 0
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

func alertFiring(t *testing.T, name, service string) bool {
	var body struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	get(t, "/api/v1/alerts", &body)
	for _, a := range body.Data.Alerts {
		if a.Labels["alertname"] == name && a.Labels["service"] == service && a.State == "firing" {
			return true
		}
	}
	return false
}

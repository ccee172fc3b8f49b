package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/enginetest"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

func TestStackRenders(t *testing.T) {
	d, err := swarmx.Render(Stack(Options{}), swarmx.Source{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"db", "sections-loader", "mapserver", "gateway", "scheduler", "scheduler-proxy"}
	for _, n := range want {
		if _, ok := d.Service(n); !ok {
			t.Errorf("no %s service", n)
		}
	}
	for _, s := range d.Services {
		sock := false
		for _, m := range s.Spec.TaskTemplate.ContainerSpec.Mounts {
			sock = sock || strings.Contains(m.Source, "docker.sock")
		}
		// The scheduler reaches the engine through its socket proxy, the only one with the socket.
		if sock != (s.Logical == "scheduler-proxy") {
			t.Errorf("%s: docker socket mounted = %v", s.Logical, sock)
		}
	}
	l, _ := d.Service("sections-loader")
	if l.Spec.Mode.ReplicatedJob == nil || l.Spec.Labels[stack.LabelSchedule] != "*/30 * * * * *" {
		t.Errorf("loader: mode %+v labels %v", l.Spec.Mode, l.Spec.Labels)
	}
	ms, _ := d.Service("mapserver")
	if !contains(ms.DependsOn, "sections-loader") {
		t.Errorf("mapserver depends on %v, want the loader", ms.DependsOn)
	}
	var fc struct{ Features []json.RawMessage }
	if err := json.Unmarshal(sectionsGeoJSON, &fc); err != nil || len(fc.Features) != Sections {
		t.Errorf("data/sections.geojson: %d features (%v), want %d", len(fc.Features), err, Sections)
	}

	up, err := swarmx.Render(Stack(Options{Upstream: true}), swarmx.Source{})
	if err != nil {
		t.Fatal(err)
	}
	job, ok := up.Service("vigicrues")
	if !ok || !strings.HasPrefix(job.Spec.TaskTemplate.ContainerSpec.Image, "kalisio/k-vigicrues:") {
		t.Errorf("upstream: no k-vigicrues job (%v)", up.Services)
	}
	if _, ok := up.Service("scheduler"); ok {
		t.Error("upstream: a scheduler for a job that schedules itself")
	}
}

// TestPipelineOnSwarm deploys the runnable pipeline on the real Swarm with the loader every
// 5 seconds, and checks the data through PostGIS, through WFS behind the gateway, and the
// loader's runs in status.
func TestPipelineOnSwarm(t *testing.T) {
	c := enginetest.Require(t)
	a := enginetest.Applier(t)
	const name, port = "kxvigi", 38090
	enginetest.Cleanup(t, a, name)
	st := Stack(Options{Name: name, HTTPPort: port, Schedule: "*/5 * * * * *"})
	st.Service(scheduler.DefaultName).Env["KARGO_SCHEDULER_REFRESH"] = "1s"
	enginetest.Apply(t, a, st, swarmx.ApplyOptions{})

	// Through the gateway: WFS GetFeature as GeoJSON. The first answer may wait for the
	// gateway to see MapServer; after that, no request is retried.
	url := fmt.Sprintf("http://127.0.0.1:%d/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=%s&OUTPUTFORMAT=geojson", port, Table)
	var fc featureCollection
	if err := json.Unmarshal(enginetest.Get(t, url, time.Minute), &fc); err != nil || len(fc.Features) != Sections {
		t.Fatalf("WFS GetFeature through the gateway: %d features (%v), want %d", len(fc.Features), err, Sections)
	}
	names := map[string]bool{}
	for _, f := range fc.Features {
		names[fmt.Sprint(f.Properties["lbentcru"])] = true
		if f.Geometry.Type != "LineString" {
			t.Errorf("feature %v: geometry %s", f.Properties["gid"], f.Geometry.Type)
		}
	}
	if !names["Loire moyenne"] || !names["Rhône aval"] {
		t.Errorf("section names %v lack Loire moyenne / Rhône aval", names)
	}

	// The loader replaces the table every 5 s in one transaction: during several of its runs,
	// every GetFeature through the gateway, and every count in PostGIS, sees all the sections.
	ctr := strings.TrimSpace(enginetest.Docker(t, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+name+"_db"))
	if ctr == "" {
		t.Fatal("no running db container")
	}
	runsBefore := loaderRuns(t, name)
	hc := &http.Client{Timeout: 10 * time.Second}
	hits, bad := 0, 0
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end) && hits < 2000; hits++ {
		if err := getFeatures(hc, url); err != nil {
			bad++
			t.Errorf("GetFeature %d at %s: %v", hits, time.Now().Format("15:04:05.000"), err)
			if bad >= 5 {
				break
			}
		}
		if hits%50 == 0 {
			out := enginetest.Docker(t, "exec", strings.Fields(ctr)[0], "psql", "-U", "vigicrues", "-d", "vigicrues", "-tAc",
				"SELECT count(*), count(DISTINCT gid), max(nivsituvigicruent), ST_GeometryType(min(geom)::geometry) FROM sections")
			if got := strings.TrimSpace(out); got != fmt.Sprintf("%d|%d|4|ST_LineString", Sections, Sections) {
				t.Errorf("sections in PostGIS at %s: %q, want %d rows, %d gids, max level 4, line strings",
					time.Now().Format("15:04:05.000"), got, Sections, Sections)
			}
		}
	}
	runsDuring := loaderRuns(t, name) - runsBefore
	t.Logf("%d GetFeature requests in 20 s across %d loader runs: %d failed", hits, runsDuring, bad)
	if runsDuring < 2 {
		t.Errorf("the loader ran %d times while the requests went on, want >= 2 (every 5 s for 20 s)", runsDuring)
	}
	if hits < 20 {
		t.Errorf("only %d GetFeature requests in 20 s", hits)
	}

	// The scheduler re-runs the loader; status shows its runs.
	ctx := context.Background()
	var loader swarmx.ServiceStatus
	runs := 0
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end) && runs < 2; time.Sleep(time.Second) {
		runs = loaderRuns(t, name)
	}
	if runs < 2 {
		t.Fatalf("the scheduler ran the loader %d times in 60 s, want >= 2", runs)
	}
	sts, err := a.Status(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		if s.Name == name+"_sections-loader" {
			loader = s
		}
	}
	t.Logf("loader status: schedule=%q last=%s result=%s next=%s (runs %d)", loader.Schedule, loader.LastRun, loader.LastResult, loader.NextRun, runs)
	if loader.LastRun == "" || loader.NextRun == "" || (loader.LastResult != "running" && loader.LastResult != "succeeded") {
		t.Errorf("loader status %+v", loader)
	}
	prev, err := exec.Command("docker", "service", "inspect", name+"_sections-loader", "--format",
		`{{index .Spec.Labels "`+stack.LabelRunPrevious+`"}}`).Output()
	if err != nil || strings.TrimSpace(string(prev)) != stack.RunSucceeded {
		t.Errorf("previous loader run: %q (%v), want succeeded", prev, err)
	}
	_ = c
}

type featureCollection struct {
	Features []struct {
		Properties map[string]any
		Geometry   struct{ Type string }
	}
}

// getFeatures makes one WFS GetFeature request and checks it returns every section.
func getFeatures(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	var fc featureCollection
	if err := json.Unmarshal(body, &fc); err != nil {
		return fmt.Errorf("%v: %.200s", err, body)
	}
	if len(fc.Features) != Sections {
		return fmt.Errorf("%d features, want %d: %.200s", len(fc.Features), Sections, body)
	}
	return nil
}

// loaderRuns is the number of runs the scheduler started of the loader.
func loaderRuns(t *testing.T, stackName string) int {
	t.Helper()
	out, err := exec.Command("docker", "service", "inspect", stackName+"_sections-loader", "--format",
		`{{index .Spec.Labels "`+stack.LabelRunRuns+`"}}`).Output()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package gdal_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gdal"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

const sample = `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"gid":1,"LbEntCru":"Loire"},"geometry":{"type":"LineString","coordinates":[[0,47],[1,47.5]]}}]}`

const password = "s3cr3t-Pa55word-never-in-spec"

func pipeline(cfg gdal.Config) (*stack.Stack, *postgis.Server) {
	db := postgis.New(postgis.Config{
		Common:   builder.Common{Name: "db"},
		Database: "gis",
		User:     "gis",
		Password: &stack.Secret{Name: "db-password", Data: []byte(password)}})
	cfg.Database = db
	return stack.New("v", db, gdal.New(cfg)), db
}

func TestLoadRendersAScheduledJob(t *testing.T) {
	st, _ := pipeline(gdal.Config{
		Common:   builder.Common{Name: "sections-loader"},
		Schedule: "*/30 * * * * *",
		Data:     []byte(sample),
		Table:    "sections",
		Mode:     gdal.Append})
	d, err := swarmx.Render(st, swarmx.Source{})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	svc, ok := d.Service("sections-loader")
	if !ok {
		t.Fatal("no sections-loader service")
	}
	spec := svc.Spec
	if spec.Mode.ReplicatedJob == nil || svc.Replicas() != 1 {
		t.Errorf("mode %+v, want a replicated job of 1", spec.Mode)
	}
	if spec.Labels[stack.LabelSchedule] != "*/30 * * * * *" {
		t.Errorf("schedule label %q", spec.Labels[stack.LabelSchedule])
	}
	cs := spec.TaskTemplate.ContainerSpec
	if cs.Image != "kargo/gdal:3.6" {
		t.Errorf("image %q", cs.Image)
	}
	if len(cs.Secrets) != 1 || !strings.HasPrefix(cs.Secrets[0].SecretName, "v_db-password_") || cs.Secrets[0].File.Name != "db-password" {
		t.Errorf("secrets %+v, want the database password mounted as /run/secrets/db-password", cs.Secrets)
	}
	if len(cs.Configs) != 1 || cs.Configs[0].File.Name != "/data/sections-loader.geojson" {
		t.Errorf("configs %+v, want the dataset at /data/sections-loader.geojson", cs.Configs)
	}
	found := false
	for _, c := range d.Configs {
		if c.Logical == "sections-loader-data" {
			found = true
			if string(c.Spec.Data) != sample {
				t.Errorf("dataset config holds %q", c.Spec.Data)
			}
		}
	}
	if !found {
		t.Errorf("no sections-loader-data config among %d rendered configs", len(d.Configs))
	}
	if len(cs.Mounts) != 0 {
		t.Errorf("mounts %+v: a load job mounts nothing (the socket is the scheduler's only)", cs.Mounts)
	}
	if svc.DependsOn == nil || svc.DependsOn[0] != "db" {
		t.Errorf("depends on %v, want db", svc.DependsOn)
	}
	script := strings.Join(cs.Command, " ")
	for _, want := range []string{"ogr2ogr -f PostgreSQL 'PG:host=db port=5432 dbname=gis user=gis' /data/sections-loader.geojson",
		"-nln sections", "-append", "-ds_transaction -gt unlimited", "GEOMETRY_NAME=geom", "FID=id", `PGPASSWORD="$(cat /run/secrets/db-password)"; export PGPASSWORD`} {
		if !strings.Contains(script, want) {
			t.Errorf("command lacks %q:\n%s", want, script)
		}
	}
	// The password is nowhere in the service spec: not in env, command, args or labels.
	b, _ := json.Marshal(spec)
	if strings.Contains(string(b), password) {
		t.Error("the password appears in the rendered service spec")
	}
	for k := range svc.Env() {
		if strings.Contains(strings.ToUpper(k), "PASSWORD") {
			t.Errorf("env %s: a password variable in the spec", k)
		}
	}
}

func TestLoadOverwriteIsTheDefault(t *testing.T) {
	st, _ := pipeline(gdal.Config{Common: builder.Common{Name: "l"}, Source: "/vsicurl/http://files/x.geojson", Table: "t"})
	svc := st.Service("l")
	script := strings.Join(svc.Command, " ")
	if !strings.Contains(script, "-overwrite") || strings.Contains(script, "-append") || !strings.Contains(script, "/vsicurl/http://files/x.geojson") ||
		!strings.Contains(script, "-ds_transaction -gt unlimited") {
		t.Errorf("command:\n%s", script)
	}
	if len(svc.Configs) != 0 || svc.Schedule != "" {
		t.Errorf("configs %v schedule %q, want none", svc.Configs, svc.Schedule)
	}
	if err := st.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestLoadProblems(t *testing.T) {
	st := stack.New("v", gdal.New(gdal.Config{Common: builder.Common{Name: "l"}, Table: "bad table; drop", Mode: "upsert", Data: []byte("{}"), Source: "/x"}))
	err := st.Validate()
	if err == nil {
		t.Fatal("validate accepted a bad load")
	}
	for _, want := range []string{"config.table", "config.mode", "config.data", "config.database"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validate error lacks %s:\n%v", want, err)
		}
	}
	st = stack.New("v", gdal.New(gdal.Config{Common: builder.Common{Name: "l"}, Table: "t", Source: "/x", Schedule: "every day"}))
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "schedule") {
		t.Errorf("a bad schedule: %v", err)
	}
}

// TestScriptRunsOgr2ogrWithThePasswordFromTheFile runs the job's shell program with stand-ins
// for pg_isready and ogr2ogr that record what they got.
func TestScriptRunsOgr2ogrWithThePasswordFromTheFile(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "db-password")
	os.WriteFile(secret, []byte("it's $ecret"), 0o400)
	out := filepath.Join(dir, "out")
	os.WriteFile(filepath.Join(dir, "pg_isready"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "ogr2ogr"), []byte("#!/bin/sh\n{ echo \"pw=$PGPASSWORD\"; for a in \"$@\"; do echo \"arg=$a\"; done; } > "+out+"\n"), 0o755)
	script := gdal.Script(secret, "db", 5432, []string{"ogr2ogr", "-f", "PostgreSQL", "PG:host=db user=gis", "/data/a b.geojson", "-nln", "sections"})
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin"}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("script: %v\n%s", err, b)
	}
	got, _ := os.ReadFile(out)
	want := "pw=it's $ecret\narg=-f\narg=PostgreSQL\narg=PG:host=db user=gis\narg=/data/a b.geojson\narg=-nln\narg=sections\n"
	if string(got) != want {
		t.Errorf("ogr2ogr got:\n%s\nwant:\n%s", got, want)
	}
	// A missing password file fails the run before ogr2ogr.
	os.Remove(out)
	cmd = exec.Command("sh", "-c", gdal.Script(filepath.Join(dir, "missing"), "db", 5432, []string{"ogr2ogr"}))
	cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin"}
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "password file") {
		t.Errorf("missing password file: err %v, output %s", err, b)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("ogr2ogr ran without a password file")
	}
}

// The shipped file keeps the extension of DataFile, which tells OGR the format; Data and an
// explicit FileName keep their names.
func TestLoadFileNameDefaults(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "stations.csv")
	if err := os.WriteFile(csv, []byte("id,lon,lat\n1,2.3,48.8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		cfg  gdal.Config
		want string
	}{
		{gdal.Config{Common: builder.Common{Name: "l"}, Table: "t", DataFile: csv}, "/data/stations.csv"},
		{gdal.Config{Common: builder.Common{Name: "l"}, Table: "t", DataFile: "data/zones.gpkg"}, "/data/zones.gpkg"},
		{gdal.Config{Common: builder.Common{Name: "l"}, Table: "t", DataFile: "data/zones.gpkg", FileName: "z.gpkg"}, "/data/z.gpkg"},
		{gdal.Config{Common: builder.Common{Name: "l"}, Table: "t", Data: []byte(sample)}, "/data/l.geojson"},
	}
	for _, c := range cases {
		st, _ := pipeline(c.cfg)
		svc := st.Service("l")
		if len(svc.Configs) != 1 || svc.Configs[0].Target != c.want {
			t.Errorf("DataFile %q FileName %q: configs %+v, want the dataset at %s", c.cfg.DataFile, c.cfg.FileName, svc.Configs, c.want)
			continue
		}
		if script := strings.Join(svc.Command, " "); !strings.Contains(script, " "+c.want+" ") {
			t.Errorf("DataFile %q: ogr2ogr does not read %s:\n%s", c.cfg.DataFile, c.want, script)
		}
	}
	st, _ := pipeline(cases[0].cfg)
	if err := st.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
	d, err := swarmx.Render(st, swarmx.Source{})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	s, ok := d.Service("l")
	if !ok {
		t.Fatal("no rendered service l")
	}
	cs := s.Spec.TaskTemplate.ContainerSpec
	if len(cs.Configs) != 1 || cs.Configs[0].File.Name != "/data/stations.csv" {
		t.Errorf("rendered configs %+v, want /data/stations.csv", cs.Configs)
	}
}

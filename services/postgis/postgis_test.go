package postgis_test

import (
	"strings"
	"testing"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

func render(t *testing.T, parts ...stack.Part) *swarmx.Desired {
	t.Helper()
	d, err := swarmx.Render(stack.New("t", parts...), swarmx.Source{
		ReadFile:  func(p string) ([]byte, error) { return []byte("-- " + p), nil },
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return d
}

func TestDefaults(t *testing.T) {
	db := postgis.New(postgis.Config{})
	d := render(t, db)
	svc, ok := d.Service("postgis")
	if !ok {
		t.Fatal("no service postgis")
	}
	cs := svc.Spec.TaskTemplate.ContainerSpec
	if cs.Image != "kargo/postgis:15-3.3" {
		t.Errorf("image = %q", cs.Image)
	}
	env := svc.Env()
	if env["POSTGRES_USER"] != "postgres" || env["POSTGRES_DB"] != "postgres" {
		t.Errorf("env = %v", env)
	}
	if env["POSTGRES_PASSWORD_FILE"] != "/run/secrets/postgis-password" {
		t.Errorf("POSTGRES_PASSWORD_FILE = %q", env["POSTGRES_PASSWORD_FILE"])
	}
	if _, ok := env["POSTGRES_PASSWORD"]; ok {
		t.Error("plain POSTGRES_PASSWORD must never be set")
	}
	if len(cs.Secrets) != 1 || cs.Secrets[0].SecretName != "t_postgis-password" || cs.Secrets[0].File.Name != "postgis-password" {
		t.Errorf("secrets = %+v", cs.Secrets)
	}
	if len(d.Secrets) != 1 || d.Secrets[0].Generate != 32 || d.Secrets[0].Spec.Data != nil {
		t.Errorf("secret must be generated (32 chars) at apply time: %+v", d.Secrets)
	}
	if len(cs.Mounts) != 1 || cs.Mounts[0].Source != "t_postgis-data" || cs.Mounts[0].Target != "/var/lib/postgresql/data" {
		t.Errorf("mounts = %+v", cs.Mounts)
	}
	if got := strings.Join(cs.Healthcheck.Test, " "); got != "CMD pg_isready -h 127.0.0.1 -p 5432 -U postgres -d postgres" {
		t.Errorf("health = %q", got)
	}
	if svc.Replicas() != 1 {
		t.Errorf("replicas = %d", svc.Replicas())
	}
	if r := svc.Spec.TaskTemplate.Resources; r == nil || r.Limits.MemoryBytes != stack.GiB || r.Limits.NanoCPUs != 1e9 {
		t.Errorf("resources = %+v", r)
	}
	if svc.Spec.UpdateConfig.Order != "stop-first" {
		t.Errorf("update order = %q, want stop-first", svc.Spec.UpdateConfig.Order)
	}
	if string(svc.Spec.EndpointSpec.Mode) != "dnsrr" {
		t.Errorf("endpoint mode = %q", svc.Spec.EndpointSpec.Mode)
	}
	if cs.Args != nil {
		t.Errorf("args = %v, want none", cs.Args)
	}
}

func TestFullConfig(t *testing.T) {
	db := postgis.New(postgis.Config{
		Common: builder.Common{Name: "db",
			Placement: stack.Placement{Constraints: []string{"node.labels.db==true"}},
			Resources: stack.Resources{MemoryLimit: 2 * stack.GiB}},
		Database: "gis", User: "kargo", Volume: "pgdata",
		Password:      &stack.Secret{Env: "DB_PASSWORD"},
		InitSQL:       "CREATE TABLE x(id int);",
		Init:          []postgis.InitFile{{Name: "60_data.sql.gz", File: "data.sql.gz"}},
		SharedBuffers: "256MB", MaxConnections: 50, Settings: map[string]string{"log_min_duration_statement": "500"},
	})
	if db.Host() != "db" || db.Port() != 5432 || db.Database() != "gis" || db.User() != "kargo" || db.PasswordSecret() != "db-password" {
		t.Errorf("accessors: %s %d %s %s %s", db.Host(), db.Port(), db.Database(), db.User(), db.PasswordSecret())
	}
	if db.DSN() != "host=db port=5432 dbname=gis user=kargo" {
		t.Errorf("DSN = %q", db.DSN())
	}
	d, err := swarmx.Render(stack.New("t", db), swarmx.Source{
		LookupEnv: func(k string) (string, bool) { return "pw-from-env", k == "DB_PASSWORD" },
		ReadFile:  func(p string) ([]byte, error) { return []byte("gz"), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := d.Service("db")
	cs := svc.Spec.TaskTemplate.ContainerSpec
	want := "postgres -c log_min_duration_statement=500 -c max_connections=50 -c shared_buffers=256MB"
	if got := strings.Join(cs.Args, " "); got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
	targets := map[string]bool{}
	for _, c := range cs.Configs {
		targets[c.File.Name] = true
	}
	if !targets["/docker-entrypoint-initdb.d/50_init.sql"] || !targets["/docker-entrypoint-initdb.d/60_data.sql.gz"] {
		t.Errorf("init configs = %v", targets)
	}
	if string(d.Secrets[0].Spec.Data) != "pw-from-env" {
		t.Error("password secret must come from the env var")
	}
	for _, e := range cs.Env {
		if strings.Contains(e, "pw-from-env") {
			t.Errorf("password leaked into env: %s", e)
		}
	}
	if svc.Spec.TaskTemplate.Placement.Constraints[0] != "node.labels.db==true" {
		t.Errorf("placement = %+v", svc.Spec.TaskTemplate.Placement)
	}
	if svc.Spec.TaskTemplate.Resources.Limits.MemoryBytes != 2*stack.GiB {
		t.Errorf("resources = %+v", svc.Spec.TaskTemplate.Resources)
	}
}

func TestValidation(t *testing.T) {
	db := postgis.New(postgis.Config{
		Common: builder.Common{Name: "db", Replicas: 2, Env: map[string]string{"POSTGRES_PASSWORD": "oops"}},
		User:   "bad user", MaxConnections: -1,
		Init:     []postgis.InitFile{{Name: "../x.sql", Data: []byte("x")}, {Name: "a.sql"}},
		Settings: map[string]string{"Bad-Name": "1"},
	})
	err := stack.New("t", db).Validate()
	if err == nil {
		t.Fatal("want validation errors")
	}
	for _, want := range []string{"config.replicas", "config.user", "config.maxConnections", "config.env.POSTGRES_PASSWORD",
		"config.init[0].name", "config.init[1]", "config.settings.Bad-Name", "services[db]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "oops") {
		t.Error("validation error must not echo the password")
	}
}

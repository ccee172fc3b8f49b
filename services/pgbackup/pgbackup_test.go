package pgbackup_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalisio/kargo/kargotest"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/pgbackup"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
)

func TestNewDumpsTheDatabaseOnASchedule(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis", User: "gis"})
	job := pgbackup.New(pgbackup.Config{Database: db, KeepDays: 14})
	st := scheduler.Ensure(stack.New("maps", db, job))
	require.NoError(t, st.Validate())

	assert.Equal(t, "db-backup", job.Name)
	assert.Equal(t, stack.ReplicatedJob, job.Mode)
	assert.Equal(t, pgbackup.DefaultSchedule, job.Schedule)
	assert.Equal(t, []string{"/bin/sh", pgbackup.ScriptPath}, job.Command)
	assert.Equal(t, []string{"backup"}, job.Args)
	assert.Equal(t, []string{"db"}, job.DependsOn)
	assert.Equal(t, map[string]string{
		"PGHOST": "db", "PGPORT": "5432", "PGDATABASE": "gis", "PGUSER": "gis",
		"KARGO_BACKUP_DIR": "/backups", "KARGO_BACKUP_PREFIX": "gis",
		"KARGO_BACKUP_KEEP": "0", "KARGO_BACKUP_KEEP_DAYS": "14",
		"KARGO_PASSWORD_FILE": "/run/secrets/db-password",
		"KARGO_RUN":           `{{index .Service.Labels "io.kargo.run.last"}}`,
	}, job.Env)
	assert.Equal(t, []stack.FileRef{{Source: "db-password", Mode: 0o400}}, job.Secrets)
	assert.Contains(t, job.Mounts, stack.Mount{Type: stack.VolumeMount, Source: "db-backup", Target: "/backups"})
	assert.Equal(t, "db", job.Labels[pgbackup.LabelDatabase])
	assert.Equal(t, "db-backup", job.Labels[pgbackup.LabelVolume])
	assert.NotNil(t, job.Health)
	assert.NotZero(t, job.Resources.CPULimit)
	assert.NotZero(t, job.Resources.MemoryLimit)
	assert.NotNil(t, st.Service("scheduler"), "a scheduled backup needs the scheduler")

	// Rendered: the password is only a secret file; nothing derived from it anywhere else.
	svc := kargotest.Render(t, st).Service("db-backup")
	assert.False(t, svc.HasEnv("PGPASSWORD"))
	assert.Equal(t, map[string]string{"db-password": "/run/secrets/db-password"}, svc.SecretTargets())
	assert.Equal(t, []string{pgbackup.ScriptPath}, svc.ConfigTargets())
}

func TestNewDefaultsAndProblems(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "pg"}})
	job := pgbackup.New(pgbackup.Config{Database: db, Common: builder.Common{Name: "nightly"}, Volume: "dumps"})
	assert.Equal(t, "7", job.Env["KARGO_BACKUP_KEEP"], "neither Keep nor KeepDays: the last 7")
	assert.Contains(t, job.Mounts, stack.Mount{Type: stack.VolumeMount, Source: "dumps", Target: "/backups"})

	bad := pgbackup.New(pgbackup.Config{Keep: -1, Common: builder.Common{Replicas: 2,
		Env: map[string]string{"PGPASSWORD": "x"}}})
	st := stack.New("maps", bad)
	err := st.Validate()
	require.Error(t, err)
	for _, s := range []string{"config.database", "config.keep", "config.replicas", "config.env.PGPASSWORD"} {
		assert.Contains(t, err.Error(), s)
	}
	assert.NotContains(t, bad.Env, "PGPASSWORD")
}

func TestMarkWriter(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}})
	w := pgbackup.MarkWriter(&stack.Service{Name: "loader"}, db)
	assert.Equal(t, "db", w.Labels[pgbackup.LabelWrites])
}

// script runs the job's script with stub pg_* tools that log their arguments and environment.
type script struct {
	t                  *testing.T
	dir, backups, logf string
}

func newScript(t *testing.T) *script {
	dir := t.TempDir()
	s := &script{t: t, dir: dir, backups: filepath.Join(dir, "backups"), logf: filepath.Join(dir, "calls")}
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.MkdirAll(s.backups, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run"), 0o755))
	stub := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+
			`echo "`+name+` $* PGPASSFILE=$PGPASSFILE PGPASSWORD=${PGPASSWORD:-}" >>`+s.logf+"\n"+body), 0o755))
	}
	stub("pg_isready", "exit 0\n")
	stub("pg_dump", `while [ $# -gt 0 ]; do [ "$1" = -f ] && echo dump-content >"$2"; shift; done`+"\n")
	stub("pg_restore", "exit ${PG_RESTORE_EXIT:-0}\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "password"), []byte("s3:cr\\et\n"), 0o400))
	return s
}

func (s *script) run(env []string, args ...string) (string, error) {
	src := filepath.Join(s.dir, "pgbackup.sh")
	require.NoError(s.t, os.WriteFile(src, pgbackup.Script(), 0o644))
	cmd := exec.Command("sh", append([]string{src}, args...)...)
	cmd.Env = append([]string{"PATH=" + filepath.Join(s.dir, "bin") + ":/usr/bin:/bin",
		"PGDATABASE=gis", "PGHOST=db", "PGPORT=5432",
		"KARGO_BACKUP_DIR=" + s.backups, "KARGO_TMP=" + filepath.Join(s.dir, "run"),
		"KARGO_BACKUP_PREFIX=gis", "KARGO_PASSWORD_FILE=" + filepath.Join(s.dir, "password")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *script) dumps() []string {
	var out []string
	ents, _ := os.ReadDir(s.backups)
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".prom" {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}

func TestScriptBackupKeepsTheLastN(t *testing.T) {
	s := newScript(t)
	for _, old := range []string{"gis-20200101T000000Z.dump", "gis-20200102T000000Z.dump", "gis-20200103T000000Z.dump", "other-20200101T000000Z.dump"} {
		require.NoError(t, os.WriteFile(filepath.Join(s.backups, old), []byte("old"), 0o600))
	}
	out, err := s.run([]string{"KARGO_RUN=2026-01-01T00:00:00Z", "KARGO_BACKUP_KEEP=2", "KARGO_BACKUP_KEEP_DAYS=0"}, "backup")
	require.NoError(t, err, out)
	files := s.dumps()
	require.Len(t, files, 4, "%v", files)
	assert.Equal(t, "gis-20200103T000000Z.dump", files[0], "the newest old dump is among the last 2")
	assert.Regexp(t, `^gis-\d{8}T\d{6}Z\.dump$`, files[1])
	assert.Equal(t, files[1]+".json", files[2])
	assert.Equal(t, "other-20200101T000000Z.dump", files[3], "another database's dumps are not touched")
	assert.Contains(t, out, pgbackup.ResultPrefix+`{"op":"backup","result":"succeeded","name":"`+files[1]+`","size":13,`)

	prom, err := os.ReadFile(filepath.Join(s.backups, "gis.prom"))
	require.NoError(t, err)
	assert.Contains(t, string(prom), `kargo_backup_last_run_success{database="gis"} 1`)
	assert.Contains(t, string(prom), `kargo_backup_last_size_bytes{database="gis"} 13`)
	fi, err := os.Stat(filepath.Join(s.backups, "gis.prom"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "node-exporter reads it as nobody")

	// A failed run: the success metrics of the last dump stay, the run says it failed.
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "bin", "pg_dump"), []byte("#!/bin/sh\nexit 1\n"), 0o755))
	out, err = s.run([]string{"KARGO_RUN=x", "KARGO_BACKUP_KEEP=2"}, "backup")
	require.Error(t, err, out)
	prom, _ = os.ReadFile(filepath.Join(s.backups, "gis.prom"))
	assert.Contains(t, string(prom), `kargo_backup_last_run_success{database="gis"} 0`)
	assert.Contains(t, string(prom), `kargo_backup_last_size_bytes{database="gis"} 13`)
	assert.Contains(t, string(prom), "# TYPE kargo_backup_last_success_timestamp_seconds gauge\nkargo_backup_last_success_timestamp_seconds{")
	assert.NotContains(t, string(prom), "--")

	calls, _ := os.ReadFile(s.logf)
	assert.NotContains(t, string(calls), "s3", "the password reached a command line or the environment")
	assert.Contains(t, string(calls), "pg_dump -Fc -f "+s.backups+"/."+files[1]+".partial")
	pass, err := os.ReadFile(filepath.Join(s.dir, "run", "pgpass"))
	require.NoError(t, err)
	assert.Equal(t, "*:*:*:*:s3\\:cr\\\\et\n", string(pass), "a .pgpass line, with : and \\ escaped")
}

func TestScriptBackupKeepsDays(t *testing.T) {
	s := newScript(t)
	require.NoError(t, os.WriteFile(filepath.Join(s.backups, "gis-20200101T000000Z.dump"), []byte("old"), 0o600))
	out, err := s.run([]string{"KARGO_RUN=x", "KARGO_BACKUP_KEEP=0", "KARGO_BACKUP_KEEP_DAYS=3650000"}, "backup")
	require.NoError(t, err, out)
	assert.Len(t, s.dumps(), 3, "a dump younger than KeepDays stays")
	out, err = s.run([]string{"KARGO_RUN=x", "KARGO_BACKUP_KEEP=0", "KARGO_BACKUP_KEEP_DAYS=1"}, "backup")
	require.NoError(t, err, out)
	for _, f := range s.dumps() {
		assert.NotContains(t, f, "2020", "a 2020 dump is older than one day")
	}
}

func TestScriptRunStartedByApplyTakesNoDump(t *testing.T) {
	s := newScript(t)
	out, err := s.run([]string{"KARGO_RUN="}, "backup")
	require.NoError(t, err, out)
	assert.Empty(t, s.dumps())
	assert.Contains(t, out, `"result":"skipped"`)
}

func TestScriptRestore(t *testing.T) {
	s := newScript(t)
	for _, f := range []string{"gis-20200101T000000Z.dump", "gis-20200301T000000Z.dump"} {
		require.NoError(t, os.WriteFile(filepath.Join(s.backups, f), []byte("d"), 0o600))
	}
	out, err := s.run(nil, "restore")
	require.NoError(t, err, out)
	calls, _ := os.ReadFile(s.logf)
	assert.Contains(t, string(calls), "pg_restore --clean --if-exists --single-transaction --exit-on-error -d gis "+s.backups+"/gis-20200301T000000Z.dump")
	assert.Contains(t, out, `"op":"restore","result":"succeeded","name":"gis-20200301T000000Z.dump"`)

	out, err = s.run(nil, "restore", "gis-20200102T000000Z.dump")
	assert.Error(t, err)
	assert.Contains(t, out, `"result":"failed"`)
	assert.Contains(t, out, "no dump named gis-20200102T000000Z.dump (have: gis-20200301T000000Z.dump gis-20200101T000000Z.dump")

	out, err = s.run(nil, "restore", "../etc/passwd")
	assert.Error(t, err)
	assert.Contains(t, out, "is not a dump name")

	out, err = s.run([]string{"PG_RESTORE_EXIT=1"}, "restore", "gis-20200101T000000Z.dump")
	assert.Error(t, err)
	assert.Contains(t, out, "the database is unchanged")
}

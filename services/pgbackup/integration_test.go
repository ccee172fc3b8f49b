package pgbackup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/internal/enginetest"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/pgbackup"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

const (
	itStack = "kxbackup"
	itPort  = 28390
	rows    = 500
)

// itStack is PostGIS with a points table (created empty on first start), its nightly backup
// job, a MapServer WFS of the table behind a gateway, the scheduler, and "writer", a service
// marked as writing into the database.
func backupStack() *stack.Stack {
	db := postgis.New(postgis.Config{
		Common:   builder.Common{Name: "db", Resources: stack.Resources{CPULimit: 1, MemoryLimit: 512 * stack.MiB, MemoryReservation: 64 * stack.MiB}},
		Database: "gis",
		User:     "gis",
		Volume:   "pgdata",
		InitSQL:  "CREATE TABLE points (id integer PRIMARY KEY, name text NOT NULL, geom geometry(Point, 4326));"})
	backup := pgbackup.New(pgbackup.Config{Database: db, Schedule: "0 0 3 * * *", Keep: 3})
	ms := mapserver.New(mapserver.Config{
		Common:   builder.Common{Name: "mapserver"},
		Database: db,
		Maps: []mapserver.Map{{
			Name: "points", Extent: mapserver.Extent{-5, 41, 10, 52},
			Layers: []mapserver.Layer{{Name: "points", Type: mapserver.Point, Table: "points",
				Classes: []mapserver.Class{{Name: "point", Color: "#d7191c"}}}},
		}}})
	writer := pgbackup.MarkWriter(&stack.Service{Name: "writer", Image: "debian:bookworm-slim",
		Command:   []string{"sleep", "infinity"},
		Resources: stack.Resources{CPULimit: 0.1, MemoryLimit: 16 * stack.MiB},
		Health:    &stack.Health{Test: []string{"CMD", "true"}, Interval: 5 * time.Second}}, db)
	gw := gateway.New(gateway.Config{HTTPPort: itPort, Routes: gateway.OGC(ms)})
	return scheduler.Ensure(stack.New(itStack, db, backup, ms, writer, gw))
}

// TestBackupAndRestoreOnSwarm loads rows, backs them up with `kargo backup`, drops the table,
// restores it with `kargo restore`, and checks the rows (count and checksum) and the WFS
// features; then it removes the stack and the database volume (the backup volume stays),
// applies again and restores the latest dump into the fresh database; then it empties the
// table and restores the local copy of the dump (backup --copy-to, restore --from).
func TestBackupAndRestoreOnSwarm(t *testing.T) {
	enginetest.Require(t)
	a := enginetest.Applier(t)
	enginetest.Cleanup(t, a, itStack)
	st := backupStack()
	start := time.Now()
	enginetest.Apply(t, a, st, swarmx.ApplyOptions{})
	t.Logf("apply: %s", time.Since(start).Round(time.Second))

	// The run Swarm starts when the apply creates the job takes no dump.
	out := run(t, st, "status")
	if !strings.Contains(out, "backup db-backup: no dump yet") {
		t.Errorf("status after apply does not say there is no dump yet:\n%s", out)
	}

	psql(t, fmt.Sprintf("INSERT INTO points SELECT g, 'point ' || g, ST_SetSRID(ST_MakePoint(-5 + (g %% 150) * 0.1, 41 + (g / 50) * 1.0), 4326) FROM generate_series(1, %d) g", rows))
	want := checksum(t)
	if !strings.HasPrefix(want, fmt.Sprint(rows)+"|") {
		t.Fatalf("after loading: %q, want %d rows", want, rows)
	}
	wantWFS := wfsIDs(t, time.Minute)
	if len(wantWFS) != rows {
		t.Fatalf("WFS lists %d features, want %d", len(wantWFS), rows)
	}

	start = time.Now()
	local := filepath.Join(t.TempDir(), "copy.dump")
	out = run(t, st, "backup", "--copy-to", local)
	t.Logf("backup: %s: %s", time.Since(start).Round(time.Second), strings.TrimSpace(out))
	if b, err := os.ReadFile(local); err != nil || !bytes.HasPrefix(b, []byte("PGDMP")) || !strings.Contains(out, "copied gis-") {
		t.Errorf("backup --copy-to: %v, %d bytes starting %.5q, want a pg_dump custom archive (PGDMP)", err, len(b), b)
	}
	if !strings.Contains(out, "backup gis-") || !strings.Contains(out, ".dump") || !strings.Contains(out, "succeeded") {
		t.Fatalf("backup output does not name a succeeded dump: %q", out)
	}
	dump := strings.Fields(out[strings.Index(out, "backup gis-"):])[1]
	out = run(t, st, "status")
	if !strings.Contains(out, "backup db-backup: last dump "+dump) || !strings.Contains(out, "next run ") {
		t.Errorf("status does not show the last dump %s and the next run:\n%s", dump, out)
	}

	psql(t, "DROP TABLE points")
	if got := psql(t, "SELECT count(*) FROM pg_tables WHERE tablename = 'points'"); got != "0" {
		t.Fatalf("points still there after DROP: %q", got)
	}

	start = time.Now()
	out = run(t, st, "restore")
	t.Logf("restore: %s:\n%s", time.Since(start).Round(time.Second), out)
	for _, s := range []string{
		itStack + "_scheduler scaled from 1 to 0 (no scheduled job starts)",
		itStack + "_writer scaled from 1 to 0 (writes into db)",
		"restored " + dump,
		itStack + "_writer scaled back to 1",
		itStack + "_scheduler scaled back to 1",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("restore output lacks %q", s)
		}
	}
	if got := checksum(t); got != want {
		t.Errorf("after restore: %q, want %q", got, want)
	}
	if got := wfsIDs(t, time.Minute); strings.Join(got, ",") != strings.Join(wantWFS, ",") {
		t.Errorf("after restore, WFS lists %d features, want the %d of before", len(got), len(wantWFS))
	}

	// A fresh database: the stack and its database volume removed, the backup volume kept.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := a.Remove(ctx, itStack, swarmx.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	enginetest.Docker(t, "volume", "rm", itStack+"_pgdata")
	enginetest.Apply(t, a, backupStack(), swarmx.ApplyOptions{})
	if got := psql(t, "SELECT count(*) FROM points"); got != "0" {
		t.Fatalf("fresh database: %s rows, want 0 (the table made empty by the init SQL)", got)
	}
	start = time.Now()
	out = run(t, st, "restore")
	t.Logf("restore into a fresh database: %s", time.Since(start).Round(time.Second))
	if !strings.Contains(out, "restored "+dump) {
		t.Errorf("restore into the fresh database did not restore %s (the dump of the apply's run must not be the latest):\n%s", dump, out)
	}
	if got := checksum(t); got != want {
		t.Errorf("after restore into a fresh database: %q, want %q", got, want)
	}
	if got := wfsIDs(t, time.Minute); strings.Join(got, ",") != strings.Join(wantWFS, ",") {
		t.Errorf("after restore into a fresh database, WFS lists %d features, want %d", len(got), len(wantWFS))
	}

	// The local copy made by backup --copy-to, restored with --from into the emptied table.
	psql(t, "DELETE FROM points")
	start = time.Now()
	out = run(t, st, "restore", "--from", local)
	t.Logf("restore --from a local copy: %s", time.Since(start).Round(time.Second))
	if !strings.Contains(out, "copied "+local+" into the backup volume as upload-") || !strings.Contains(out, "restored upload-") {
		t.Errorf("restore --from output:\n%s", out)
	}
	if got := checksum(t); got != want {
		t.Errorf("after restore --from %s: %q, want %q", local, got, want)
	}
	// The upload is not a dump of the job's: "latest" is still the job's own.
	out = run(t, st, "restore")
	if !strings.Contains(out, "restored "+dump) {
		t.Errorf("restore after restore --from did not take the job's latest dump %s:\n%s", dump, out)
	}

	// A dump that does not exist: a clear failure, and everything put back.
	var stdout, stderr bytes.Buffer
	err := kargo.Run(context.Background(), []string{"restore", "gis-20000101T000000Z.dump"}, st, kargo.Options{Stdout: &stdout, Stderr: &stderr})
	if err == nil || !strings.Contains(err.Error(), "no dump named gis-20000101T000000Z.dump") {
		t.Errorf("restore of a missing dump: %v, want an error naming it", err)
	}
	if !strings.Contains(stdout.String(), itStack+"_writer scaled back to 1") {
		t.Errorf("after a failed restore, the writer was not scaled back:\n%s", stdout.String())
	}
}

func run(t *testing.T, st *stack.Stack, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := kargo.Run(ctx, args, st, kargo.Options{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// psql runs SQL in the database container and returns its unaligned output.
func psql(t *testing.T, sql string) string {
	t.Helper()
	ctr := ""
	for end := time.Now().Add(time.Minute); ctr == "" && time.Now().Before(end); time.Sleep(time.Second) {
		ctr = strings.TrimSpace(enginetest.Docker(t, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+itStack+"_db"))
	}
	if ctr == "" {
		t.Fatal("no running db container")
	}
	return strings.TrimSpace(enginetest.Docker(t, "exec", strings.Fields(ctr)[0], "psql", "-v", "ON_ERROR_STOP=1", "-U", "gis", "-d", "gis", "-tAc", sql))
}

// checksum is the row count and an md5 of every row, in id order.
func checksum(t *testing.T) string {
	return psql(t, "SELECT count(*) || '|' || md5(string_agg(p::text, ',' ORDER BY id)) FROM points p")
}

// wfsIDs are the ids and names of the features WFS GetFeature returns through the gateway.
func wfsIDs(t *testing.T, timeout time.Duration) []string {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=points&OUTPUTFORMAT=geojson", itPort)
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
			Geometry   struct {
				Coordinates []float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(enginetest.Get(t, url, timeout), &fc); err != nil {
		t.Fatalf("WFS GetFeature: %v", err)
	}
	var ids []string
	for _, f := range fc.Features {
		ids = append(ids, fmt.Sprintf("%v %v %v", f.Properties["id"], f.Properties["name"], f.Geometry.Coordinates))
	}
	sort.Strings(ids)
	return ids
}

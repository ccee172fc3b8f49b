// Package gdal builds data jobs on GDAL's command line tools: New returns a job that runs
// ogr2ogr to load a vector dataset (GeoJSON, GeoPackage, Shapefile, CSV... anything OGR
// reads) into a table of a PostGIS server, once or on a schedule.
//
//	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
//	sections := gdal.New(gdal.Config{
//		Common: builder.Common{Name: "sections-loader"}, Schedule: "0 */10 * * * *",
//		Data: sectionsGeoJSON, Database: db, Table: "sections", Mode: gdal.Overwrite,
//	})
//	st := scheduler.Ensure(stack.New("vigicrues", db, sections))
//
// The job is a Swarm replicated job: Swarm runs it to completion when the stack is applied,
// and Kargo's scheduler (package services/scheduler) re-runs it on its Schedule. The image
// (images/contexts/gdal, kargo/gdal) needs sh, cat, pg_isready and ogr2ogr. The database
// password is the PostGIS server's Docker secret, read from its file at run time into
// PGPASSWORD for ogr2ogr only: it never appears in the service spec, its env or its args.
package gdal

import (
	"cmp"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/internal/shell"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
)

var defaults = builder.Defaults{
	Image:     images.Ref("gdal"),
	Resources: stack.Resources{CPULimit: 0.5, MemoryLimit: 256 * stack.MiB, MemoryReservation: 32 * stack.MiB},
}

// Defaults of the table a load writes, those of Kargo's MapServer layers.
const (
	defaultSRID     = 4326
	defaultGeometry = "geom"
	defaultFID      = "id"
)

// Mode says what a load does with the rows already in the table.
type Mode string

// Load modes.
const (
	// Overwrite replaces the table at each run (ogr2ogr -overwrite): the table holds exactly
	// the last dataset loaded. The drop, the re-creation and the load are one transaction, so
	// readers (MapServer's WFS and WMS) see the previous rows or the new ones, never a missing
	// or an empty table: a query that comes during the load waits for its commit.
	Overwrite Mode = "overwrite"
	// Append adds the features to the table (created by the first run) at each run, in one
	// transaction: a failed run adds nothing.
	Append Mode = "append"
)

// DataDir is where the dataset given by Config.Data or DataFile is mounted.
const DataDir = "/data"

// Config describes a load job. Common.Name is required; Common.Image must provide sh, cat,
// pg_isready and ogr2ogr; Common.Env takes GDAL configuration options (CPL_DEBUG...), never
// the password.
type Config struct {
	builder.Common
	// Schedule re-runs the load on a 6-field cron schedule, seconds first (e.g.
	// "0 */10 * * * *"); empty runs it once, when applied. A schedule needs the stack's
	// scheduler service (scheduler.Ensure).
	Schedule string
	// The dataset: exactly one of Data (its content), DataFile (a path read by the deploy
	// program when it renders the stack) or Source (an OGR data source as the container sees
	// it: a path on a mounted volume, or a GDAL virtual file such as /vsicurl/...). Data and
	// DataFile are shipped as a Swarm config, which Swarm limits to 1000 KB; put larger
	// datasets on a volume and give their path as Source.
	Data []byte
	// DataFile is a path to the dataset, read by the deploy program when it renders the stack.
	DataFile string
	// Source is an OGR data source as the container sees it (a mounted path or /vsicurl/...).
	Source string
	// FileName is the name of the shipped file under /data; its extension tells OGR the
	// format. Default: the base name of DataFile, or "<Name>.geojson" for Data.
	FileName string
	// Layer selects one layer of a multi-layer source (default: every layer into Table).
	Layer string
	// Database is the PostGIS server the data go to (required).
	Database *postgis.Server
	// Table the features are written to (required); Schema defaults to public.
	Table string
	// Schema of the table; default public.
	Schema string
	// Mode is Overwrite (default) or Append.
	Mode Mode
	// SRID the geometries are reprojected to (default 4326); GeometryColumn (default "geom")
	// and FID, the primary key column made from the feature ids (default "id"), follow the
	// defaults of Kargo's MapServer layers.
	SRID int
	// GeometryColumn is the geometry column; default "geom".
	GeometryColumn string
	// FID is the primary key column made from the feature ids; default "id".
	FID string
	// Options are further ogr2ogr arguments, e.g. []string{"-nlt", "PROMOTE_TO_MULTI"}.
	Options []string
}

var (
	identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	fileRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*\.[A-Za-z0-9]+$`)
)

// New builds a replicated job that loads a dataset into a PostGIS table with ogr2ogr.
// Configuration problems are recorded on the service and reported by the stack's Validate.
func New(cfg Config) *stack.Service {
	svc := builder.Base(cfg.Common, defaults)
	builder.RefuseEnv(svc, "Database", "PGPASSWORD")
	svc.Mode = stack.ReplicatedJob
	svc.Schedule = cfg.Schedule
	// A failed load (the database restarting, a bad file) is retried twice, then the run
	// fails and waits for the next tick (stack's default for jobs retries three times).
	svc.Restart = &stack.RestartPolicy{Condition: "on-failure", Delay: stack.DefaultRestartDelay, MaxAttempts: 2}
	svc.Labels = map[string]string{"io.kargo.product": "gdal"}
	if cfg.Name == "" {
		svc.Problemf("name", "a load job needs a name")
	}
	mode := cmp.Or(cfg.Mode, Overwrite)
	if mode != Overwrite && mode != Append {
		svc.Problemf("config.mode", "mode %q: want %q or %q", cfg.Mode, Overwrite, Append)
	}
	if !identRE.MatchString(cfg.Table) {
		svc.Problemf("config.table", "table %q: want a plain SQL identifier", cfg.Table)
	}
	if cfg.Schema != "" && !identRE.MatchString(cfg.Schema) {
		svc.Problemf("config.schema", "schema %q: want a plain SQL identifier", cfg.Schema)
	}
	geom, fid := cmp.Or(cfg.GeometryColumn, defaultGeometry), cmp.Or(cfg.FID, defaultFID)
	if !identRE.MatchString(geom) {
		svc.Problemf("config.geometryColumn", "column %q: want a plain SQL identifier", geom)
	}
	if !identRE.MatchString(fid) {
		svc.Problemf("config.fid", "column %q: want a plain SQL identifier", fid)
	}
	srid := cmp.Or(cfg.SRID, defaultSRID)
	if srid < 0 {
		svc.Problemf("config.srid", "SRID %d: want a positive EPSG code", srid)
	}

	src := cfg.Source
	given := 0
	for _, set := range []bool{cfg.Data != nil, cfg.DataFile != "", cfg.Source != ""} {
		if set {
			given++
		}
	}
	if given != 1 {
		svc.Problemf("config.data", "give exactly one of Data, DataFile and Source (%d given)", given)
	}
	if cfg.Data != nil || cfg.DataFile != "" {
		file := cfg.FileName
		switch {
		case file != "":
		case cfg.DataFile != "":
			// Keep the file's own extension: OGR picks the driver from it (.csv, .gpkg...).
			file = filepath.Base(cfg.DataFile)
		default:
			file = cfg.Name + ".geojson"
		}
		if !fileRE.MatchString(file) {
			svc.Problemf("config.fileName", "file name %q: want a plain name with an extension", file)
		}
		name := cfg.Name + "-data"
		svc.Declares.Configs = append(svc.Declares.Configs, stack.Config{Name: name, Data: cfg.Data, File: cfg.DataFile})
		src = path.Join(DataDir, file)
		svc.Configs = append(svc.Configs, stack.FileRef{Source: name, Target: src, Mode: 0o444})
	}

	db := cfg.Database
	if db == nil {
		svc.Problemf("config.database", "a load job needs the PostGIS database it writes into")
		return svc
	}
	secretFile := builder.MountSecret(svc, db.PasswordSecret())
	svc.DependsOn = append(svc.DependsOn, db.Host())

	table := cfg.Table
	if cfg.Schema != "" {
		table = cfg.Schema + "." + cfg.Table
	}
	dsn := fmt.Sprintf("PG:host=%s port=%d dbname=%s user=%s", db.Host(), db.Port(), db.Database(), db.User())
	args := []string{"ogr2ogr", "-f", "PostgreSQL", dsn, src}
	if cfg.Layer != "" {
		args = append(args, cfg.Layer)
	}
	args = append(args, "-nln", table, "-t_srs", "EPSG:"+strconv.Itoa(srid),
		"-lco", "GEOMETRY_NAME="+geom, "-lco", "FID="+fid)
	if mode == Append {
		args = append(args, "-append")
	} else {
		args = append(args, "-overwrite")
	}
	// One transaction for the whole run. With the PostgreSQL driver of GDAL 3.6, -overwrite
	// alone commits the DROP and CREATE TABLE before the rows are copied (readers see an
	// empty table, or none), and -ds_transaction alone still commits after creating the
	// table; with -gt unlimited the DROP, CREATE, COPY and index come in one commit.
	args = append(args, "-ds_transaction", "-gt", "unlimited")
	args = append(args, cfg.Options...)

	svc.Command = []string{"sh", "-c", Script(secretFile, db.Host(), db.Port(), args)}
	return svc
}

// Script is the shell program of a load job: it waits (bounded) for the server, exports the
// password read from the secret file for ogr2ogr only, and runs it. Arguments are quoted for
// the shell.
func Script(secretFile, host string, port int, args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = Quote(a)
	}
	return strings.Join([]string{
		"set -eu",
		fmt.Sprintf(`[ -r %s ] || { echo "gdal-load: password file %s is missing" >&2; exit 1; }`, Quote(secretFile), secretFile),
		fmt.Sprintf(`i=0; until pg_isready -q -h %s -p %d; do i=$((i+1)); [ $i -lt 60 ] || { echo "gdal-load: %s:%d is not ready" >&2; exit 1; }; sleep 1; done`,
			Quote(host), port, host, port),
		fmt.Sprintf(`PGPASSWORD="$(cat %s)"; export PGPASSWORD`, Quote(secretFile)),
		`echo "gdal-load: start $(date -u +%Y-%m-%dT%H:%M:%SZ)"`,
		strings.Join(quoted, " "),
		`echo "gdal-load: done $(date -u +%Y-%m-%dT%H:%M:%SZ)"`,
	}, "\n")
}

// Quote quotes s for a POSIX shell (single quotes, with embedded ones escaped).
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,@%+") == "" {
		return s
	}
	return shell.Quote(s)
}

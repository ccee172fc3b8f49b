// Package pgbackup builds the backup job of a PostGIS service: a scheduled Swarm job that
// runs `pg_dump -Fc` of the database into a backup volume, one file per run named by its UTC
// time (<database>-20260130T020000Z.dump, with a .json manifest beside it), and keeps the
// last Keep dumps and those of the last KeepDays days.
//
//	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
//	backup := pgbackup.New(pgbackup.Config{Database: db, Schedule: "0 0 2 * * *", Keep: 7})
//	st := scheduler.Ensure(stack.New("maps", db, backup))
//
// The scheduler (package services/scheduler) runs it on its schedule; `kargo backup` runs it
// now (`--copy-to FILE` copies the dump out) and `kargo restore [NAME]` restores a dump into
// the running database (`--from FILE` restores a local one; see package kargo). Swarm also starts a job when an apply creates or changes it: such a run takes no
// dump, so that the dump of a fresh, empty database never becomes the latest one.
//
// The job runs in Kargo's PostGIS image (its pg_dump and pg_restore match the server), with
// the database password from the PostGIS service's secret file, written at start into a
// password file (PGPASSFILE) on a tmpfs: never in the environment nor on a command line.
// Each run ends with a line "kargo-pgbackup-result: {...}" (result, dump name, size) that
// `kargo status` reads from the job's logs.
package pgbackup

import (
	"cmp"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
)

//go:embed pgbackup.sh
var script []byte

// Contract of the job.
const (
	// Dir is where the backup volume is mounted.
	Dir = "/backups"
	// ScriptPath is where the job's script is mounted.
	ScriptPath = "/usr/local/lib/kargo/pgbackup.sh"
	// ResultPrefix starts the last line of every run: a JSON Result follows it.
	ResultPrefix = "kargo-pgbackup-result: "
	// DefaultSchedule is every night at 02:00 UTC.
	DefaultSchedule = "0 0 2 * * *"
	// DefaultKeep is how many dumps stay when neither Keep nor KeepDays is set.
	DefaultKeep = 7
)

// Labels of the job service, read by `kargo backup`, `kargo restore` and `kargo status`.
const (
	// LabelRole is "pgbackup" on a backup job (the key the scheduler's role label uses).
	LabelRole = "io.kargo.role"
	// Role is the value of LabelRole on a backup job.
	Role = "pgbackup"
	// LabelDatabase names the PostGIS service a backup job dumps.
	LabelDatabase = "io.kargo.backup.database"
	// LabelVolume names the backup volume of a backup job.
	LabelVolume = "io.kargo.backup.volume"
	// LabelWrites, on a service, names the PostGIS service it writes into: `kargo restore`
	// scales it down while it restores that database, and back up after. Set it with
	// MarkWriter.
	LabelWrites = "io.kargo.writes-to"
)

// Config describes a backup job. Name defaults to "<database service>-backup".
type Config struct {
	builder.Common
	// Database is the PostGIS server dumped (required).
	Database *postgis.Server
	// Schedule is a 6-field cron schedule, seconds first, in UTC (default DefaultSchedule,
	// every night at 02:00). The stack needs the scheduler service (scheduler.Ensure).
	Schedule string
	// Volume is the named volume holding the dumps (default "<name>").
	Volume string
	// Keep is how many of the newest dumps stay. KeepDays keeps, as well, every dump of the
	// last KeepDays days. Both zero: Keep is DefaultKeep. The newest dump always stays.
	Keep int
	// KeepDays keeps every dump younger than that many days (0: no age rule).
	KeepDays int
}

// Result is what the last line of a run says.
type Result struct {
	// Op is backup or restore.
	Op string `json:"op"`
	// Result is succeeded, failed or skipped (a run started by an apply takes no dump).
	Result string `json:"result"`
	// Name is the dump written or restored.
	Name string `json:"name"`
	// Size of the dump in bytes.
	Size int64 `json:"size"`
	// Seconds the run took.
	Seconds int64 `json:"seconds"`
	// Time the run ended (RFC 3339, UTC).
	Time string `json:"time"`
	// Database dumped or restored.
	Database string `json:"database"`
	// Message says why a run failed, or how many dumps were kept.
	Message string `json:"message"`
}

// New builds the backup job. Configuration problems are recorded on the service and reported
// by the stack's Validate.
func New(cfg Config) *stack.Service {
	db := cfg.Database
	name := "pgbackup"
	if db != nil {
		name = db.Host() + "-backup"
	}
	svc := builder.Base(cfg.Common, builder.Defaults{
		Name:  name,
		Image: images.Ref("postgis"),
		Resources: stack.Resources{CPULimit: 0.5, MemoryLimit: 256 * stack.MiB,
			CPUReservation: 0.05, MemoryReservation: 32 * stack.MiB},
	})
	builder.RefuseEnv(svc, "Database", "PGPASSWORD", "KARGO_PASSWORD_FILE")
	svc.Mode = stack.ReplicatedJob
	svc.Schedule = cmp.Or(cfg.Schedule, DefaultSchedule)
	if cfg.Replicas > 1 {
		svc.Problemf("config.replicas", "a backup job runs one dump at a time (got %d replicas)", cfg.Replicas)
	}
	keep := cfg.Keep
	if cfg.Keep < 0 || cfg.KeepDays < 0 {
		svc.Problemf("config.keep", "Keep and KeepDays must be >= 0 (got %d and %d)", cfg.Keep, cfg.KeepDays)
	}
	if keep == 0 && cfg.KeepDays == 0 {
		keep = DefaultKeep
	}
	vol := cmp.Or(cfg.Volume, svc.Name)
	scriptName := svc.Name + "-script"
	svc.Command = []string{"/bin/sh", ScriptPath}
	svc.Args = []string{"backup"}
	svc.Mounts = []stack.Mount{
		{Type: stack.VolumeMount, Source: vol, Target: Dir},
		// The password file made at start.
		{Type: stack.TmpfsMount, Target: "/run/kargo", TmpfsSize: stack.MiB},
	}
	svc.Declares.Volumes = append(svc.Declares.Volumes, stack.Volume{Name: vol})
	svc.Declares.Configs = append(svc.Declares.Configs, stack.Config{Name: scriptName, Data: script})
	svc.Configs = append(svc.Configs, stack.FileRef{Source: scriptName, Target: ScriptPath, Mode: 0o444})
	svc.Labels = map[string]string{LabelRole: Role, LabelVolume: vol}
	svc.Env["KARGO_BACKUP_DIR"] = Dir
	svc.Env["KARGO_BACKUP_KEEP"] = strconv.Itoa(keep)
	svc.Env["KARGO_BACKUP_KEEP_DAYS"] = strconv.Itoa(cfg.KeepDays)
	// Swarm expands this per task: the start time of the run the scheduler (or kargo backup)
	// started, empty when an apply created or changed the job.
	svc.Env["KARGO_RUN"] = `{{index .Service.Labels "io.kargo.run.last"}}`
	// pg_isready through the server's port: the dump can only go on while it answers.
	svc.Health = &stack.Health{Test: []string{"CMD", "pg_isready", "-q"},
		Interval: 30 * time.Second, Timeout: 10 * time.Second, Retries: 3, StartPeriod: 30 * time.Second}
	if db == nil {
		svc.Problemf("config.database", "a backup job needs the PostGIS service it dumps")
		return svc
	}
	svc.Labels[LabelDatabase] = db.Host()
	svc.DependsOn = append(svc.DependsOn, db.Host())
	svc.Env["PGHOST"] = db.Host()
	svc.Env["PGPORT"] = strconv.Itoa(db.Port())
	svc.Env["PGDATABASE"] = db.Database()
	svc.Env["PGUSER"] = db.User()
	svc.Env["KARGO_BACKUP_PREFIX"] = db.Database()
	svc.Env["KARGO_PASSWORD_FILE"] = builder.MountSecret(svc, db.PasswordSecret())
	return svc
}

// Script returns the job's shell script (backup, restore [NAME], list).
func Script() []byte { return slices.Clone(script) }

// MarkWriter marks svc as a service that writes into db: `kargo restore` scales it down
// while it restores db, and back up after. It returns svc.
func MarkWriter(svc *stack.Service, db *postgis.Server) *stack.Service {
	if svc.Labels == nil {
		svc.Labels = map[string]string{}
	}
	svc.Labels[LabelWrites] = db.Host()
	return svc
}

// String says what a result means, for people.
func (r Result) String() string {
	switch {
	case r.Result == "skipped":
		return fmt.Sprintf("%s skipped at %s (%s)", r.Op, r.Time, r.Message)
	case r.Result != "succeeded":
		return fmt.Sprintf("%s %s at %s: %s", r.Op, r.Result, r.Time, r.Message)
	}
	return fmt.Sprintf("%s %s (%s) %s at %s in %ds", r.Op, r.Name, HumanSize(r.Size), r.Result, r.Time, r.Seconds)
}

// HumanSize prints a byte count with a binary unit: 512 B, 1.5 KiB, 12.0 MiB.
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

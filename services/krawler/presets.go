package krawler

import (
	"cmp"
	"time"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
)

// Vigicrues preset (kalisio/k-vigicrues@v1.4.0: dockerfile, jobfile.js; Kargo v0.18
// deploy/vigicrues.yml and .env.default; UPSTREAM.md §1.8, §4.1).
const (
	// VigicruesImage is the image Kargo v0.18 deployed.
	VigicruesImage = "kalisio/k-vigicrues:1.4.0"
	// VigicruesCron is the image's ENV CRON and Kargo's VIGICRUES_CRON: every 3 hours.
	VigicruesCron = "0 0 */3 * * *"
	// VigicruesCommand is the image's CMD, run again when secrets must be exported first.
	VigicruesCommand = `node /opt/krawler --run --cron "$CRON" jobfile.js`
	// VigicruesTTL is Kargo's VIGICRUES_TTL (30 days); the job's own default is 7 days.
	VigicruesTTL = 30 * 24 * time.Hour
)

// Collections written by the Vigicrues job (jobfile.js at v1.4.0; its README says
// "vigicrues", the code writes these two).
const (
	// VigicruesSections: flood-watch river sections, upserted by properties.gid, 2dsphere.
	VigicruesSections = "vigicrues-sections"
	// VigicruesForecasts: one feature per section per run (time, properties.gid,
	// NivSituVigiCruEnt...), expiring after TTL.
	VigicruesForecasts = "vigicrues-forecasts"
)

// Teleray preset (kalisio/k-teleray@v1.2.0: dockerfile, jobfile.js; Kargo v0.18
// deploy/teleray.yml and .env.default; UPSTREAM.md §1.8, §4.2).
const (
	// TelerayImage is the image Kargo v0.18 deployed.
	TelerayImage = "kalisio/k-teleray:1.2.0"
	// TelerayCron is the image's ENV CRON and Kargo's TELERAY_CRON: every 10 minutes.
	TelerayCron = "0 */10 * * * *"
	// TelerayCommand is the image's CMD.
	TelerayCommand = `node /opt/krawler --cron "$CRON" --run jobfile.js`
	// TelerayTTL is Kargo's TELERAY_MEASUREMENTS_TTL (30 days); the job's default is 7 days.
	TelerayTTL = 30 * 24 * time.Hour
)

// Collections written by the Teleray job (jobfile.js at v1.2.0, unchanged through v1.6.0;
// its README says measurements/sensors, the code uses the teleray- prefix).
const (
	// TelerayMeasurements: new radiation measures, unique per (time, properties.irsnId),
	// expiring after TTL.
	TelerayMeasurements = "teleray-measurements"
	// TeleraySensors: the IRSN sensors, upserted by properties.irsnId, 2dsphere.
	TeleraySensors = "teleray-sensors"
)

// PresetConfig configures a preset job (Vigicrues, Teleray). The zero value plus a MongoDB
// service is a complete job.
//
// Common: Name defaults to the product name ("vigicrues", "teleray"); Image to the preset's
// image; Replicas to 1 (a Krawler job normally runs once); Env adds environment variables
// (HTTP_PROXY...); Placement has no constraint by default.
type PresetConfig struct {
	builder.Common
	// Mongo gives DB_URL with its root credentials (the password stays a secret file).
	// Mongo or DBURL is required.
	Mongo *mongodb.Server
	// Database is the database on Mongo; default the product name.
	Database string
	// DBURL gives DB_URL as a plain URL instead of Mongo; it must not hold a password.
	DBURL string
	// Cron overrides the image's schedule (6 fields, seconds first).
	Cron string
	// TTL of the time series in the database; default the preset's (30 days, as Kargo).
	TTL time.Duration
	// Subdomain is passed as SUBDOMAIN (used by the health message template).
	Subdomain string
	// Debug sets DEBUG (e.g. "krawler*").
	Debug string
	// SlackWebhook is the secret holding the Slack webhook URL healthcheck.js alerts.
	SlackWebhook *stack.Secret
	// Health tunes the health check.
	Health HealthConfig
}

// VigicruesConfig configures the Vigicrues job.
type VigicruesConfig = PresetConfig

// TelerayConfig configures the Teleray job.
type TelerayConfig = PresetConfig

// Vigicrues builds the k-vigicrues job: French flood-watch sections and their alert levels,
// every 3 hours, into the vigicrues-sections and vigicrues-forecasts collections.
func Vigicrues(cfg VigicruesConfig) *stack.Service {
	return preset(cfg, "vigicrues", VigicruesImage, VigicruesCron, VigicruesTTL, VigicruesCommand)
}

// Teleray builds the k-teleray job: IRSN ambient gamma dose rate measures, every 10
// minutes, into the teleray-measurements and teleray-sensors collections.
func Teleray(cfg TelerayConfig) *stack.Service {
	return preset(cfg, "teleray", TelerayImage, TelerayCron, TelerayTTL, TelerayCommand)
}

func preset(cfg PresetConfig, product, image, cron string, ttl time.Duration, cmd string) *stack.Service {
	j := job{
		defaults: builder.Defaults{Name: product, Image: image, Resources: resources},
		cron:     cmp.Or(cfg.Cron, cron),
		database: product,
		common: Config{
			Common: cfg.Common, Mongo: cfg.Mongo, Database: cfg.Database, DBURL: cfg.DBURL,
			Subdomain: cfg.Subdomain, Debug: cfg.Debug, SlackWebhook: cfg.SlackWebhook, Health: cfg.Health,
		},
	}
	svc := j.build()
	if cfg.Mongo == nil && cfg.DBURL == "" {
		// The job would write to its built-in default, mongodb://127.0.0.1:27017/<product>,
		// which is nothing inside a Swarm task.
		svc.Problemf("config.mongo", "a database is required (Mongo or DBURL)")
	}
	if cfg.TTL < 0 {
		svc.Problemf("config.ttl", "must be positive, got %v", cfg.TTL)
	}
	if cfg.TTL > 0 {
		ttl = cfg.TTL
	}
	svc.Env["TTL"] = seconds(ttl)
	j.setCommand(svc, cmd, false)
	return svc
}

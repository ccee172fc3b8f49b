// Package krawler builds Krawler jobs as long-running Swarm services, the way Kargo v0.18 ran
// them (kalisio/kargo@v0.18.0:deploy/vigicrues.yml, teleray.yml, *-loader.yml; UPSTREAM.md
// §1.5): one replica whose container keeps running and schedules the job with Krawler's
// in-process cron (`--cron "$CRON"`, a 6-field, seconds-first pattern), restarted whatever its exit code,
// with the health check `node /opt/krawler/healthcheck.js` that asks Krawler's internal HTTP
// server (localhost:3030/healthcheck) about the last run (kalisio/krawler@v1.2.0:healthcheck.js).
// No port is published.
//
// Swarm jobs re-run by Kargo's scheduler (stack.Service.Schedule) are a different mechanism;
// these builders follow the upstream long-running pattern so the upstream images run unchanged.
//
// Secrets (the MongoDB password inside DB_URL, Mongo being a *mongodb.Server, and the Slack
// webhook URL) are Docker secrets mounted as files, never env values. Krawler images read
// neither from a file, so the container command is wrapped in `sh -c` that exports the
// variable from the file, then execs the image's own command; the health check does the same
// for the webhook.
package krawler

import (
	"cmp"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kalisio/kargo/internal/shell"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
)

// Image contract constants (kalisio/krawler@v1.2.0: dockerfile, healthcheck.js, src/cli.js).
const (
	// Dir is where Krawler lives in every Krawler-based image (also the WORKDIR of the generic
	// image).
	Dir = "/opt/krawler"
	// HealthcheckScript is copied into every job image at this path.
	HealthcheckScript = "/opt/krawler/healthcheck.js"
	// DefaultMessageTemplate is the lodash template Kargo v0.18 passes to healthcheck.js; it is
	// rendered over the health data merged with process.env, hence SUBDOMAIN.
	DefaultMessageTemplate = "*<%= SUBDOMAIN %>*\nKrawler job *<%= jobId %>*: <%= error.message %>"
	// DefaultJobFile is the file name the job file gets in the container.
	DefaultJobFile = "jobfile.js"
)

// Health timings of every Krawler job in Kargo v0.18 and of the job images' HEALTHCHECK.
const (
	// HealthInterval is the time between two checks.
	HealthInterval = time.Minute
	// HealthTimeout is how long a check may take.
	HealthTimeout = 10 * time.Second
	// HealthRetries is how many failed checks make the task unhealthy.
	HealthRetries = 3
	// HealthStartPeriod is how long failures do not count after the task starts.
	HealthStartPeriod = time.Minute
)

// resources of every Krawler job service.
var resources = stack.Resources{
	CPULimit: 1, MemoryLimit: 512 * stack.MiB,
	CPUReservation: 0.1, MemoryReservation: 128 * stack.MiB,
}

// defaults of the generic job: the generic Krawler image (WORKDIR /opt/krawler, CMD
// `node . $ARGS`).
var defaults = builder.Defaults{Name: "krawler", Image: "kalisio/krawler:1.2.0", Resources: resources}

// Config describes a generic Krawler job service running the generic Krawler image (or
// Common.Image) with a job file shipped as a stack Config.
//
// Common: Name defaults to "krawler"; Replicas to 1 (a Krawler job normally runs once); Env
// adds environment variables (HTTP_PROXY, job-specific settings...); Placement has no
// constraint by default.
type Config struct {
	builder.Common
	// Job is the path of the job file on the deploy machine, read when the stack is
	// rendered. Job or JobData is required.
	Job string
	// JobData is the content of the job file, instead of Job.
	JobData []byte
	// JobFile is the file name of the job in the container, under /opt/krawler (the image's
	// WORKDIR, where its node_modules resolve); default the base name of Job, or "jobfile.js".
	JobFile string
	// Cron is the 6-field, seconds-first schedule (e.g. "0 */10 * * * *"). Required.
	Cron string
	// Run also runs the job once at start (--run).
	Run bool
	// Mongo gives DB_URL with its root credentials (the password stays a secret file).
	Mongo *mongodb.Server
	// Database is the database on Mongo. Required with Mongo.
	Database string
	// DBURL gives DB_URL as a plain URL instead of Mongo; it must not hold a password.
	DBURL string
	// Subdomain is passed as SUBDOMAIN (used by the health message template).
	Subdomain string
	// Debug sets DEBUG (e.g. "krawler*").
	Debug string
	// SlackWebhook is the secret holding the Slack webhook URL healthcheck.js alerts.
	SlackWebhook *stack.Secret
	// Health tunes the health check.
	Health HealthConfig
}

// HealthConfig tunes healthcheck.js.
type HealthConfig struct {
	// SuccessRate is --success-rate (0 = not passed: healthcheck.js defaults to 1).
	SuccessRate float64
	// MessageTemplate is --message-template; default DefaultMessageTemplate.
	MessageTemplate string
}

// New builds a generic Krawler job service. Problems (no job file, bad cron) are recorded on
// the service and reported by Validate.
func New(cfg Config) *stack.Service {
	file := cfg.JobFile
	if file == "" && cfg.Job != "" {
		file = path.Base(cfg.Job)
	}
	file = cmp.Or(file, DefaultJobFile)
	j := job{defaults: defaults, cron: cfg.Cron, cronRequired: true, common: cfg}
	svc := j.build()
	if !jobFileRE.MatchString(file) {
		svc.Problemf("config.jobFile", "%q must be a file name of letters, digits, '.', '_' and '-', not starting with '.' or '-'", file)
	}
	switch {
	case cfg.Job == "" && cfg.JobData == nil:
		svc.Problemf("config.job", "a job file is required (Job or JobData)")
	case cfg.Job != "" && cfg.JobData != nil:
		svc.Problemf("config.job", "give Job or JobData, not both")
	}
	cfgName := svc.Name + "-job"
	svc.Declares.Configs = append(svc.Declares.Configs, stack.Config{Name: cfgName, File: cfg.Job, Data: cfg.JobData})
	svc.Configs = append(svc.Configs, stack.FileRef{Source: cfgName, Target: Dir + "/" + file})
	run := ""
	if cfg.Run {
		run = " --run"
	}
	j.setCommand(svc, fmt.Sprintf(`node %s --cron "$CRON"%s %s`, Dir, run, shell.Word(file)), true)
	return svc
}

// jobFileRE is a job file name: a plain name that node cannot read as an option.
var jobFileRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$`)

// job is what every Krawler service shares: DB_URL, CRON, health, secrets, resources.
type job struct {
	defaults     builder.Defaults
	cron         string
	cronRequired bool
	database     string // default database name when Mongo is given
	common       Config
	secretEnv    []SecretEnv
}

func (j *job) build() *stack.Service {
	c := j.common
	svc := builder.Base(c.Common, j.defaults)
	// The container keeps running and schedules the job itself: restart it at once, whatever
	// its exit code (stack's default waits 5 s).
	svc.Restart = &stack.RestartPolicy{Condition: "any"}
	if j.cron != "" {
		// A 5-field (crontab) pattern is the likely mistake: say so before the parser, which
		// rejects it with a less helpful message.
		if len(strings.Fields(j.cron)) == 5 {
			svc.Problemf("config.cron", "%q has 5 fields: Krawler reads 6, seconds first (e.g. \"0 %s\")", j.cron, j.cron)
		} else if _, err := stack.CronParser.Parse(j.cron); err != nil {
			svc.Problemf("config.cron", "invalid 6-field cron %q (seconds first, as Krawler reads it): %v", j.cron, err)
		}
		svc.Env["CRON"] = j.cron
	} else if j.cronRequired {
		svc.Problemf("config.cron", "a schedule is required (6 fields, seconds first, e.g. \"0 */10 * * * *\")")
	}
	if c.Debug != "" {
		svc.Env["DEBUG"] = c.Debug
	}
	// SUBDOMAIN is always defined when the template uses it: lodash throws on an undefined
	// variable, which would crash healthcheck.js exactly when it must report an error.
	tpl := cmp.Or(c.Health.MessageTemplate, DefaultMessageTemplate)
	if c.Subdomain != "" || strings.Contains(tpl, "SUBDOMAIN") {
		svc.Env["SUBDOMAIN"] = c.Subdomain
	}

	switch {
	case c.Mongo != nil && c.DBURL != "":
		svc.Problemf("config.dbURL", "give Mongo or DBURL, not both")
	case c.Mongo != nil:
		db := cmp.Or(c.Database, j.database)
		if db == "" {
			svc.Problemf("config.database", "a database name is required with Mongo")
		}
		j.secretEnv = append(j.secretEnv, MongoEnv(svc, "DB_URL", c.Mongo.Conn(db))...)
		// Applied after MongoDB has converged (the job's first run needs it).
		svc.DependsOn = append(svc.DependsOn, c.Mongo.Name)
	case c.DBURL != "":
		if mongodb.HasPassword(c.DBURL) {
			svc.Problemf("config.dbURL", "must not hold a password: give Mongo (its password stays a secret file)")
		}
		svc.Env["DB_URL"] = c.DBURL
	}

	slackFile := ""
	if s := c.SlackWebhook; s != nil {
		sec := *s
		if sec.Name == "" {
			sec.Name = svc.Name + "-slack-webhook"
		}
		svc.Declares.Secrets = append(svc.Declares.Secrets, sec)
		svc.Secrets = append(svc.Secrets, ClientSecret(sec.Name))
		slackFile = stack.SecretPath(sec.Name)
	}
	if r := c.Health.SuccessRate; r < 0 || r > 1 {
		svc.Problemf("config.health.successRate", "must be between 0 and 1, got %v", r)
	}
	svc.Health = Health(c.Health, slackFile)
	return svc
}

// setCommand sets the container command: the image's own CMD (a shell command line) wrapped
// in sh -c when secrets must be exported first, or kept as the image's when none are and
// always is false.
func (j *job) setCommand(svc *stack.Service, imageCmd string, always bool) {
	if len(j.secretEnv) == 0 && !always {
		return
	}
	svc.Args = ShellCommand(imageCmd, j.secretEnv...)
}

// Health returns the health check of a Krawler job: healthcheck.js with the message template
// (and --success-rate when set), 1m/10s/3/start 1m as in Kargo v0.18. With slackWebhookFile,
// the check runs in a shell that exports SLACK_WEBHOOK_URL from that file first.
func Health(h HealthConfig, slackWebhookFile string) *stack.Health {
	args := []string{"node", HealthcheckScript}
	if h.SuccessRate > 0 {
		args = append(args, "--success-rate", strconv.FormatFloat(h.SuccessRate, 'f', -1, 64))
	}
	args = append(args, "--message-template", cmp.Or(h.MessageTemplate, DefaultMessageTemplate))
	test := append([]string{"CMD"}, args...)
	if slackWebhookFile != "" {
		test = []string{"CMD-SHELL", fmt.Sprintf(`SLACK_WEBHOOK_URL="$(cat %s)" && export SLACK_WEBHOOK_URL && exec %s`,
			shell.Word(slackWebhookFile), shell.Join(args...))}
	}
	return &stack.Health{Test: test, Interval: HealthInterval, Timeout: HealthTimeout,
		Retries: HealthRetries, StartPeriod: HealthStartPeriod}
}

// SecretEnv is an environment variable computed in the container at start. Value is the
// content of a double-quoted shell word, e.g. `$(cat /run/secrets/token)`.
type SecretEnv struct {
	// Name of the variable.
	Name string
	// Value is the content of a double-quoted shell word.
	Value string
}

// FromFile is the SecretEnv that sets name to the content of a mounted secret file.
func FromFile(name, file string) SecretEnv {
	return SecretEnv{Name: name, Value: "$(cat " + shell.Word(file) + ")"}
}

// ShellCommand returns ["sh", "-c", script] where script exports each variable (failing if a
// secret file cannot be read) and then execs cmd, a shell command line, so the image's
// process keeps PID 1's place and receives signals.
func ShellCommand(cmd string, envs ...SecretEnv) []string {
	var b strings.Builder
	b.WriteString("set -e; ")
	for _, e := range envs {
		fmt.Fprintf(&b, `%s="%s"; export %s; `, e.Name, e.Value, e.Name)
	}
	b.WriteString("exec " + cmd)
	return []string{"sh", "-c", b.String()}
}

// MongoEnv wires a MongoDB connection into a client service as the variable name: a plain
// env value without authentication; otherwise the password secret is mounted (ClientSecret)
// and a SecretEnv builds the URL in the container (mongodb.Conn.ShellURL).
func MongoEnv(svc *stack.Service, name string, c mongodb.Conn) []SecretEnv {
	// An empty database name is reported by the caller, which knows the field.
	if err := c.Check(); err != nil && c.Database != "" {
		svc.Problemf("config.database", "%s: %v", name, err)
	}
	if !c.Authenticated() {
		svc.Env[name] = c.URL()
		return nil
	}
	mounted := false
	for _, s := range svc.Secrets {
		if s.Source == c.PasswordSecret {
			mounted = true
		}
	}
	if !mounted {
		svc.Secrets = append(svc.Secrets, ClientSecret(c.PasswordSecret))
	}
	return []SecretEnv{{Name: name, Value: c.ShellURL(stack.SecretPath(c.PasswordSecret))}}
}

// ClientSecret mounts a secret at /run/secrets/<name>, readable by any user of the container
// (0444): job images from Krawler 2.3 on run as USER node, not root. The file stays private to
// the container.
func ClientSecret(name string) stack.FileRef {
	return stack.FileRef{Source: name, Mode: 0o444}
}

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string { return shell.Quote(s) }

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// Package weacast builds Weacast, the weather forecast API of Kalisio, as a Kargo component:
// the Weacast API service plus one loader service per model and variant chosen (surface, or
// isobaric for ARPEGE and GFS).
//
// Contracts followed:
//   - API: weacast/weacast-api:1.6.0 (weacast/weacast-api@v1.6.0: dockerfile, config/default.js,
//     src/main.js; Kargo v0.18 deploy/weacast.yml; UPSTREAM.md §1.6, §2.1): CMD `npm run prod`
//     in /opt/weacast-api, HTTP on 8081 (internal), feathers-distributed on BASE_PORT 10000
//     published as Kargo did, env LOG_LEVEL, DEBUG, DB_URL, DATA_DB_URL, COTE_*, BASE_PORT,
//     HIGHEST_PORT, APP_SECRET, LAUNCH_DELAY, SUBDOMAIN, health `curl -f
//     http://localhost:8081/api/healthcheck` every 1m, 10s timeout, 3 retries.
//   - Loaders: weacast/weacast-loader@v1.7.0 images (Krawler 1.2.0 jobs; Kargo v0.18
//     deploy/<model>-loader.yml; UPSTREAM.md §1.7, §2.2): env DB_URL, SYNC_DB_URL,
//     WORKERS_LIMIT, REQUEST_DELAY, TTL, OLDEST_RUN_INTERVAL, KEEP_PAST_RUNS, UPPER_LIMIT,
//     DEBUG, S3_*, METEO_FRANCE_TOKEN, SUBDOMAIN, SLACK_WEBHOOK_URL; CRON left to the image
//     unless overridden; health `node /opt/krawler/healthcheck.js --success-rate 0.75`.
//   - Elements and levels: each loader image runs one job file whose elements (and isobaric
//     levels) are fixed in it (job-arpege.js / job-gfs.js defaults for the surface jobs;
//     jobfile-arpege-isobaric-{world,europe}.js and jobfile-gfs-isobaric-world.js: u-wind,
//     v-wind, temperature at 1000/700/450/300/200 hPa, collections <model>-<element>-<level>,
//     read at weacast/weacast-loader@aa72f592 job-arpege.js and
//     jobfile-arpege-isobaric-europe.js); no variable selects them. A Loader's Elements and
//     Levels therefore choose the image variant (Levels: the isobaric image and job of
//     .travis.build.sh, e.g. weacast/weacast-gfs:isobaric-world-1.7.0 running
//     jobfile-gfs-isobaric-world.js with ENV CRON "0 50 * * * *") and are checked against what
//     that job loads; the image still loads its whole set.
//
// APP_SECRET, METEO_FRANCE_TOKEN, S3_SECRET_ACCESS_KEY and the MongoDB password inside DB_URL
// (Mongo is a *mongodb.Server) are Docker secrets mounted as files, never env values. Neither image reads *_FILE variables, so the container command is
// wrapped in `sh -c` that exports each variable from its file, then execs the image's own
// command (`npm run prod`, `node /opt/krawler --cron "$CRON" jobfile-<model>.js`).
// Loaders also publish their events on SYNC_DB_URL (the API's database by default), which the
// API listens to when it embeds no loader.
package weacast

import (
	"cmp"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/krawler"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
)

// API image contract (weacast/weacast-api@v1.6.0 and Kargo v0.18 deploy/weacast.yml).
const (
	// Port is the API's HTTP port (EXPOSE 8081); it is not published.
	Port = 8081
	// Command is the image's CMD.
	Command = "npm run prod"
	// BasePort is the lowest feathers-distributed port (BASE_PORT, Kargo's value); it is
	// published unless Config.NoPublish.
	BasePort = 10000
	// HighestPort is the highest feathers-distributed port (HIGHEST_PORT, Kargo's value).
	HighestPort = 10500
	// CoteDelay is Kargo's COTE_DELAY.
	CoteDelay = 90 * time.Second
	// LoaderSuccessRate is the --success-rate of the loaders' health check.
	LoaderSuccessRate = 0.75
)

// defaults of the API service; its image is the one Kargo v0.18 deployed.
var defaults = builder.Defaults{
	Name:  "weacast",
	Image: "weacast/weacast-api:1.6.0",
	Resources: stack.Resources{CPULimit: 1, MemoryLimit: 1 * stack.GiB,
		CPUReservation: 0.25, MemoryReservation: 256 * stack.MiB},
}

// loaderResources are the default resources of a loader service.
var loaderResources = stack.Resources{CPULimit: 1, MemoryLimit: 2 * stack.GiB,
	CPUReservation: 0.25, MemoryReservation: 512 * stack.MiB}

// Config describes a Weacast component.
//
// Common configures the API service: Name defaults to "weacast", Image to
// weacast/weacast-api:1.6.0, Replicas to 1. Env adds environment variables to every service
// (HTTP_PROXY...), and every service joins Networks. Placement has no constraint by default;
// loaders have their own.
type Config struct {
	builder.Common
	// Mongo is the MongoDB service whose root credentials give DB_URL to the API and the
	// loaders (the password stays a secret file). Mongo or DBURL is required.
	Mongo *mongodb.Server
	// Database is the database on Mongo; default "weacast".
	Database string
	// DBURL gives DB_URL as a plain URL instead of Mongo. It must not hold a password: it
	// would be readable in the service spec.
	DBURL string
	// DataDatabase (on Mongo) sets DATA_DB_URL, the secondary database the elements service
	// reads; unset by default.
	DataDatabase string
	// DataDBURL sets DATA_DB_URL as a plain URL (without password) instead.
	DataDBURL string
	// AppSecret is the JWT secret (APP_SECRET); default a generated 64-character secret
	// "<name>-app-secret". Without it the image falls back to a string hard-coded in its source.
	AppSecret stack.Secret
	// LogLevel is LOG_LEVEL; default "verbose" (Kargo's WEACAST_LOG_LEVEL).
	LogLevel string
	// Debug is DEBUG (debug namespaces) for the API.
	Debug string
	// RedisURL sets COTE_DISCOVERY_REDIS_URL (Kargo: redis://redis:6379) for the
	// feathers-distributed discovery; unset by default. It must not hold a password.
	RedisURL string
	// LaunchDelay is LAUNCH_DELAY, waited before the API starts.
	LaunchDelay time.Duration
	// Subdomain is SUBDOMAIN (JWT audience, public domain weacast.<subdomain>).
	Subdomain string
	// NoPublish does not publish BasePort (Kargo published it for feathers-distributed).
	NoPublish bool
	// Loaders chooses the loaders: one service per entry, each for a model and a variant
	// (surface, or isobaric when Levels is set).
	Loaders []Loader
	// MeteoFranceToken is the Météo-France API token the ARPEGE and AROME loaders need
	// (METEO_FRANCE_TOKEN); a Loader may override it. Named "<name>-meteo-france-token" when
	// its name is empty.
	MeteoFranceToken stack.Secret
	// S3 archives raw forecasts (when Bucket is set).
	S3 *S3
	// NoSync leaves SYNC_DB_URL unset on the loaders.
	NoSync bool
	// SlackWebhook is the secret with the Slack webhook URL the loaders' health check alerts.
	SlackWebhook *stack.Secret
}

// S3 is where loaders archive raw data as COG (archive/<model>[-isobaric]/YYYY/MM/DD/HH/...).
type S3 struct {
	// Endpoint is S3_ENDPOINT, for a non-AWS store.
	Endpoint string
	// Bucket is S3_BUCKET; archiving is on when it is set.
	Bucket string
	// AccessKey is S3_ACCESS_KEY.
	AccessKey string
	// SecretAccessKey is the secret key; named "<api>-s3-secret-access-key" when unnamed.
	SecretAccessKey stack.Secret
}

// Loader is one loader service: a model, the elements and levels wanted from it, and its
// tuning. Zero fields keep the image's or Kargo's defaults.
type Loader struct {
	// Model is the weather model loaded. Required.
	Model Model
	// Elements are the elements the deployment needs from this loader; empty means every
	// element of the chosen variant. The v1.7.0 images load the fixed set of their job file
	// (no variable selects elements): an element the variant does not load is an error, and
	// the variant still loads the others.
	Elements []Element
	// Levels, when set, chooses the model's isobaric variant (its image and job file) and
	// lists the isobaric levels needed; the job loads all of Levels(). Only ARPEGE and GFS have
	// an isobaric variant, which loads u-wind, v-wind and temperature.
	Levels []Level
	// Name of the service; default "<model>-loader", or "<model>-isobaric-loader".
	Name string
	// Image overrides the model's image.
	Image string
	// Cron overrides the image's ENV CRON (6 fields, seconds first).
	Cron string
	// UpperLimit is the forecast horizon (UPPER_LIMIT); default Kargo's per model. It must be
	// a multiple of the model's step and at most the job file's horizon.
	UpperLimit time.Duration
	// TTL of forecasts (TTL); default the model's step.
	TTL time.Duration
	// OldestRunInterval (OLDEST_RUN_INTERVAL); the job's default is 1 day.
	OldestRunInterval time.Duration
	// KeepPastRuns sets KEEP_PAST_RUNS=true. (The job treats any non-empty value as true,
	// so it is unset otherwise.)
	KeepPastRuns bool
	// WorkersLimit (WORKERS_LIMIT); the job's default is 2.
	WorkersLimit int
	// RequestDelay before each request (REQUEST_DELAY, ms); the job's default is 3 s.
	RequestDelay time.Duration
	// Debug (DEBUG), e.g. "krawler*".
	Debug string
	// MeteoFranceToken overrides Config.MeteoFranceToken for this loader.
	MeteoFranceToken *stack.Secret
	// Placement of the loader's task; none by default.
	Placement stack.Placement
	// Resources of the loader; 1 CPU and 2 GiB when zero.
	Resources stack.Resources
}

// Isobaric reports whether the loader is the isobaric variant of its model.
func (l Loader) Isobaric() bool { return len(l.Levels) > 0 }

// Weacast is the component: the API service and the loaders. Add it to a stack as is.
type Weacast struct {
	// API is the Weacast API service.
	API *stack.Service
	// Loaders are the loader services, in the order of Config.Loaders.
	Loaders []*stack.Service
}

// AddTo adds the API and the loaders to the stack.
func (w *Weacast) AddTo(s *stack.Stack) {
	for _, svc := range w.Services() {
		svc.AddTo(s)
	}
}

// Services returns the API then the loaders.
func (w *Weacast) Services() []*stack.Service {
	return append([]*stack.Service{w.API}, w.Loaders...)
}

// Labels of a loader service.
const (
	// ModelLabel holds the loader's model.
	ModelLabel = "io.kargo.weacast.model"
	// VariantLabel holds the loader's variant: "surface" or "isobaric".
	VariantLabel = "io.kargo.weacast.variant"
)

// Loader returns the surface loader service of a model, or nil.
func (w *Weacast) Loader(m Model) *stack.Service { return w.find(m, "surface") }

// IsobaricLoader returns the isobaric loader service of a model, or nil.
func (w *Weacast) IsobaricLoader(m Model) *stack.Service { return w.find(m, "isobaric") }

func (w *Weacast) find(m Model, variant string) *stack.Service {
	for _, l := range w.Loaders {
		if l.Labels[ModelLabel] == string(m) && l.Labels[VariantLabel] == variant {
			return l
		}
	}
	return nil
}

// New builds the Weacast component. Problems (an unknown model or element, a bad cron, a
// missing token, an upper limit beyond the model's horizon, credentials in a URL) are recorded
// on the API service with their path in Config, such as config.loaders[1].elements[0], and
// reported by Validate.
func New(cfg Config) *Weacast {
	api := builder.Base(cfg.Common, defaults)
	name := api.Name
	// Restarted at once whatever the exit code, as the loaders (stack's default waits 5 s).
	api.Restart = &stack.RestartPolicy{Condition: "any"}
	api.Endpoints = []stack.Endpoint{{Kind: stack.HTTP, Port: Port, Path: "/api/healthcheck"}}
	env := api.Env
	env["LOG_LEVEL"] = cmp.Or(cfg.LogLevel, "verbose")
	if cfg.Debug != "" {
		env["DEBUG"] = cfg.Debug
	}
	if cfg.RedisURL != "" {
		if redisHasPassword(cfg.RedisURL) {
			api.Problemf("config.redisURL", "must not hold a password: it would be readable in the service spec")
		} else {
			env["COTE_DISCOVERY_REDIS_URL"] = cfg.RedisURL
		}
	}
	env["COTE_DELAY"] = millis(CoteDelay)
	env["BASE_PORT"] = strconv.Itoa(BasePort)
	env["HIGHEST_PORT"] = strconv.Itoa(HighestPort)
	if cfg.LaunchDelay < 0 {
		api.Problemf("config.launchDelay", "must be positive, got %v", cfg.LaunchDelay)
	}
	if cfg.LaunchDelay > 0 {
		env["LAUNCH_DELAY"] = millis(cfg.LaunchDelay)
	}
	env["SUBDOMAIN"] = cfg.Subdomain
	if !cfg.NoPublish {
		api.Ports = []stack.Port{{Target: BasePort, Published: BasePort}}
	}

	var exports []krawler.SecretEnv
	appSecret := builder.Secret(&cfg.AppSecret, name+"-app-secret", 64)
	api.Declares.Secrets = append(api.Declares.Secrets, appSecret)
	api.Secrets = append(api.Secrets, krawler.ClientSecret(appSecret.Name))
	exports = append(exports, krawler.FromFile("APP_SECRET", stack.SecretPath(appSecret.Name)))

	// Databases.
	db := cmp.Or(cfg.Database, "weacast")
	var dbConn *mongodb.Conn
	switch {
	case cfg.Mongo != nil && cfg.DBURL != "":
		api.Problemf("config.dbURL", "give Mongo or DBURL, not both")
	case cfg.Mongo != nil:
		c := cfg.Mongo.Conn(db)
		dbConn = &c
		api.DependsOn = append(api.DependsOn, cfg.Mongo.Name)
		exports = append(exports, krawler.MongoEnv(api, "DB_URL", c)...)
	case mongodb.HasPassword(cfg.DBURL):
		// Not set: the password would be in Env, in `render`, in the last-applied label and in
		// `docker service inspect`.
		api.Problemf("config.dbURL", "must not hold a password: give Mongo instead (its password stays a secret file)")
	case cfg.DBURL != "":
		env["DB_URL"] = cfg.DBURL
	default:
		api.Problemf("config.mongo", "a database is required (Mongo or DBURL): loaders default to 127.0.0.1")
	}
	switch {
	case cfg.DataDatabase != "" && cfg.DataDBURL != "":
		api.Problemf("config.dataDBURL", "give DataDatabase or DataDBURL, not both")
	case cfg.DataDatabase != "" && cfg.Mongo == nil:
		api.Problemf("config.dataDatabase", "needs Mongo")
	case cfg.DataDatabase != "":
		exports = append(exports, krawler.MongoEnv(api, "DATA_DB_URL", cfg.Mongo.Conn(cfg.DataDatabase))...)
	case mongodb.HasPassword(cfg.DataDBURL):
		api.Problemf("config.dataDBURL", "must not hold a password: give Mongo and DataDatabase instead (its password stays a secret file)")
	case cfg.DataDBURL != "":
		env["DATA_DB_URL"] = cfg.DataDBURL
	}
	api.Args = krawler.ShellCommand(Command, exports...)
	api.Health = &stack.Health{
		Test:     []string{"CMD", "curl", "-f", fmt.Sprintf("http://localhost:%d/api/healthcheck", Port)},
		Interval: time.Minute, Timeout: 10 * time.Second, Retries: 3,
		// Not in Kargo v0.18: the API only listens after LAUNCH_DELAY.
		StartPeriod: cfg.LaunchDelay + 30*time.Second,
	}

	w := &Weacast{API: api}
	type key struct {
		m        Model
		isobaric bool
	}
	seen := map[key]int{}
	for i, lc := range cfg.Loaders {
		p := fmt.Sprintf("config.loaders[%d]", i)
		problemf := func(field, format string, args ...any) {
			api.Problemf(p+field, format, args...)
		}
		info, ok := lc.Model.Info()
		if !ok {
			if lc.Model == "" {
				problemf(".model", "a model is required (known: %v)", Models())
			} else {
				problemf(".model", "unknown model %q (known: %v)", lc.Model, Models())
			}
			continue
		}
		k := key{lc.Model, lc.Isobaric()}
		if j, dup := seen[k]; dup {
			problemf(".model", "the %s loader of %q is already at config.loaders[%d]", variantName(k.isobaric), lc.Model, j)
			continue
		}
		seen[k] = i
		v, ok := variant(lc, info, problemf)
		if !ok {
			continue
		}
		w.Loaders = append(w.Loaders, newLoader(cfg, lc, info, v, dbConn, problemf))
	}
	return w
}

func variantName(isobaric bool) string {
	if isobaric {
		return "isobaric"
	}
	return "surface"
}

// variant chooses the image variant of a loader from its levels and checks its elements and
// levels against what the variant's job file loads.
func variant(lc Loader, info ModelInfo, problemf func(field, format string, args ...any)) (Variant, bool) {
	v := info.Surface
	if lc.Isobaric() {
		if info.Isobaric == nil {
			problemf(".levels", "model %s has no isobaric loader (weacast-loader 1.7.0 builds isobaric images for %s, %s and %s only)",
				lc.Model, ArpegeWorld, ArpegeEurope, GFSWorld)
			return Variant{}, false
		}
		v = *info.Isobaric
	}
	seen := map[Element]int{}
	for j, e := range lc.Elements {
		f := fmt.Sprintf(".elements[%d]", j)
		first, dup := seen[e]
		switch {
		case !contains(Elements(), e):
			problemf(f, "unknown element %q (known: %v)", e, Elements())
		case dup:
			problemf(f, "element %q is already listed at elements[%d]", e, first)
		case !contains(v.Elements, e):
			problemf(f, "the %s %s loader (%s) does not load %q: it loads %v", lc.Model, variantName(lc.Isobaric()), v.JobFile, e, v.Elements)
		}
		if !dup {
			seen[e] = j
		}
	}
	seenL := map[Level]int{}
	for j, l := range lc.Levels {
		f := fmt.Sprintf(".levels[%d]", j)
		first, dup := seenL[l]
		switch {
		case !contains(v.Levels, l):
			problemf(f, "unknown isobaric level %d hPa (the %s isobaric job loads %v hPa)", int(l), lc.Model, v.Levels)
		case dup:
			problemf(f, "level %d is already listed at levels[%d]", int(l), first)
		default:
			seenL[l] = j
		}
	}
	return v, true
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// newLoader builds a loader service; its problems are recorded with problemf, under the
// loader's path in Config.
func newLoader(cfg Config, lc Loader, info ModelInfo, v Variant, db *mongodb.Conn, problemf func(field, format string, args ...any)) *stack.Service {
	m := lc.Model
	name := string(m) + "-loader"
	if lc.Isobaric() {
		name = string(m) + "-isobaric-loader"
	}
	svc := builder.Base(builder.Common{Name: lc.Name, Image: lc.Image, Env: cfg.Env, Placement: lc.Placement,
		Resources: lc.Resources, Networks: cfg.Networks},
		builder.Defaults{Name: name, Image: v.Image, Resources: loaderResources})
	// The container keeps running and schedules its job itself (Krawler's cron): restart it at
	// once, whatever its exit code (stack's default waits 5 s).
	svc.Restart = &stack.RestartPolicy{Condition: "any"}
	svc.Labels = map[string]string{ModelLabel: string(m), VariantLabel: variantName(lc.Isobaric())}
	env := svc.Env
	var exports []krawler.SecretEnv

	// CRON: the image's ENV unless overridden (Kargo v0.18 passed none).
	if lc.Cron != "" {
		if _, err := stack.CronParser.Parse(lc.Cron); err != nil {
			problemf(".cron", "invalid 6-field cron %q (seconds first, as Krawler reads it): %v", lc.Cron, err)
		}
		env["CRON"] = lc.Cron
	}
	upper := lc.UpperLimit
	if upper == 0 {
		upper = info.UpperLimit
	}
	switch {
	case upper < 0 || upper%info.Interval != 0:
		problemf(".upperLimit", "%v is not a positive multiple of the %s step (%v)", upper, m, info.Interval)
	case upper > info.MaxUpperLimit:
		problemf(".upperLimit", "%v is beyond the %s horizon (%v)", upper, m, info.MaxUpperLimit)
	}
	env["UPPER_LIMIT"] = seconds(upper)
	for _, d := range []struct {
		path, env string
		v         time.Duration
		unit      func(time.Duration) string
	}{
		{".ttl", "TTL", lc.TTL, seconds},
		{".oldestRunInterval", "OLDEST_RUN_INTERVAL", lc.OldestRunInterval, seconds},
		{".requestDelay", "REQUEST_DELAY", lc.RequestDelay, millis},
	} {
		if d.v < 0 {
			problemf(d.path, "must be positive, got %v", d.v)
		} else if d.v > 0 {
			env[d.env] = d.unit(d.v)
		}
	}
	if lc.KeepPastRuns {
		env["KEEP_PAST_RUNS"] = "true"
	}
	if lc.WorkersLimit < 0 {
		problemf(".workersLimit", "must be positive, got %d", lc.WorkersLimit)
	} else if lc.WorkersLimit > 0 {
		env["WORKERS_LIMIT"] = strconv.Itoa(lc.WorkersLimit)
	}
	if lc.Debug != "" {
		env["DEBUG"] = lc.Debug
	}
	env["SUBDOMAIN"] = cfg.Subdomain

	// Database and sync channel.
	switch {
	case db != nil:
		svc.DependsOn = append(svc.DependsOn, cfg.Mongo.Name)
		exports = append(exports, krawler.MongoEnv(svc, "DB_URL", *db)...)
		if !cfg.NoSync {
			exports = append(exports, krawler.MongoEnv(svc, "SYNC_DB_URL", *db)...)
		}
	case cfg.DBURL != "" && !mongodb.HasPassword(cfg.DBURL):
		env["DB_URL"] = cfg.DBURL
		if !cfg.NoSync {
			env["SYNC_DB_URL"] = cfg.DBURL
		}
	}

	// Météo-France token.
	if info.MeteoFrance {
		tok := cfg.MeteoFranceToken
		if lc.MeteoFranceToken != nil {
			tok = *lc.MeteoFranceToken
		}
		if tok.Data == nil && tok.File == "" && tok.Env == "" && !tok.External {
			problemf(".meteoFranceToken", "model %s needs a Météo-France API token (Data, File, Env or External secret)", m)
		} else {
			tok.Name = cmp.Or(tok.Name, cmp.Or(cfg.Name, defaults.Name)+"-meteo-france-token")
			svc.Declares.Secrets = append(svc.Declares.Secrets, tok)
			svc.Secrets = append(svc.Secrets, krawler.ClientSecret(tok.Name))
			exports = append(exports, krawler.FromFile("METEO_FRANCE_TOKEN", stack.SecretPath(tok.Name)))
		}
	}

	// S3 archive.
	if s3 := cfg.S3; s3 != nil && s3.Bucket != "" {
		env["S3_BUCKET"] = s3.Bucket
		if s3.Endpoint != "" {
			env["S3_ENDPOINT"] = s3.Endpoint
		}
		if s3.AccessKey != "" {
			env["S3_ACCESS_KEY"] = s3.AccessKey
		}
		sk := s3.SecretAccessKey
		if sk.Data != nil || sk.File != "" || sk.Env != "" || sk.External {
			sk.Name = cmp.Or(sk.Name, cmp.Or(cfg.Name, defaults.Name)+"-s3-secret-access-key")
			svc.Declares.Secrets = append(svc.Declares.Secrets, sk)
			svc.Secrets = append(svc.Secrets, krawler.ClientSecret(sk.Name))
			exports = append(exports, krawler.FromFile("S3_SECRET_ACCESS_KEY", stack.SecretPath(sk.Name)))
		}
	}

	slackFile := ""
	if s := cfg.SlackWebhook; s != nil {
		sec := *s
		sec.Name = cmp.Or(sec.Name, cmp.Or(cfg.Name, defaults.Name)+"-slack-webhook")
		svc.Declares.Secrets = append(svc.Declares.Secrets, sec)
		svc.Secrets = append(svc.Secrets, krawler.ClientSecret(sec.Name))
		slackFile = stack.SecretPath(sec.Name)
	}
	svc.Health = krawler.Health(krawler.HealthConfig{SuccessRate: LoaderSuccessRate}, slackFile)

	// The image's CMD (shell form, no --run: the first run waits for the next tick).
	if len(exports) > 0 {
		svc.Args = krawler.ShellCommand(fmt.Sprintf(`node %s --cron "$CRON" %s`, krawler.Dir, v.JobFile), exports...)
	}
	return svc
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
func millis(d time.Duration) string  { return strconv.FormatInt(d.Milliseconds(), 10) }

// redisHasPassword reports whether a redis:// URL carries a password ("redis://:pw@host").
func redisHasPassword(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return false
	}
	_, set := p.User.Password()
	return set
}

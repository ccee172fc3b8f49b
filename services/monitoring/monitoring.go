// Package monitoring builds the monitoring of a stack: Prometheus (Debian's prometheus 2.42)
// with node-exporter on every node, a PostgreSQL exporter for the PostGIS service, and a
// blackbox exporter that probes every task of the watched services, plus the alert rules that
// matter for a geospatial stack.
//
//	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
//	ms := mapserver.New(mapserver.Config{Common: builder.Common{Name: "mapserver", Replicas: 2}, Database: db, ...})
//	mon := monitoring.New(monitoring.Config{Database: db, Watch: []*stack.Service{ms}, Gateway: "gateway"})
//	gw := gateway.New(gateway.Config{HTTPPort: 8080, Metrics: true,
//		Routes: append(gateway.OGC(ms), mon.Route())})
//	st := stack.New("maps", db, ms, gw, mon)
//
// Prometheus answers under /prometheus through the gateway (behind its BasicAuth when set).
// A watched service running Kargo's MapServer or MapCache image is also scraped at the Apache
// exporter its image runs in every task (ApachePort): `kargo metrics` shows its request rate.
//
// Discovery is Prometheus' own Docker Swarm service discovery (dockerswarm_sd_configs, role
// tasks): every job lists the stack's running tasks and keeps those of its service, on a
// network Prometheus shares with them; each target gets a "service" label, the Kargo name
// of the service it belongs to. Prometheus has no Docker socket: it reaches the Engine API
// through a socket proxy of its own (<name>-proxy, services/scheduler.Proxy with the
// read-only "discovery" profile: the stack's services, tasks and networks, and the nodes),
// on an internal network (<name>-engine) that only Prometheus joins. A watched service's
// task count is the number of its tasks that answer their probe, compared with the replicas
// the stack declares. Alerts:
//
//   - KargoReplicasBelowDesired: fewer tasks of a watched service answer than it has replicas;
//   - KargoTaskFailing: a task's probe (its first endpoint, as its health check sees it) fails;
//   - KargoGateway5xx: more than 5% of the gateway's responses are 5xx;
//   - KargoPostGISDown: the PostgreSQL exporter cannot reach the database, or is down itself;
//   - KargoBackupFailed, KargoScheduledJobLate, KargoBackupTooOld: the backup job's last run
//     made no dump, no run came within one and a half periods of its schedule, or the last
//     dump is older than that (node-exporter reads the job's result from the backup volume);
//   - KargoScheduledJobFailed, KargoScheduledJobMissedRun, KargoSchedulerDown: the last run
//     of a scheduled job (other than the backup, which has its own) failed; a tick of a
//     job's schedule came and no run started (the previous one was still going, or the
//     engine refused it); no scheduler task answers (the scheduler serves these figures, see
//     Config.Scheduler; `kargo restore` pauses it on purpose);
//   - KargoTargetDown: an exporter does not answer.
//
// Every service runs kargo/monitoring (one image from Debian packages holding the four
// binaries), as an unprivileged user, with a health check and resource limits; the socket
// proxy runs Kargo's kargo/socket-proxy.
package monitoring

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/internal/socketproxy"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/services/pgbackup"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
)

// Ports and paths of the image's contract.
const (
	PrometheusPort = 9090
	NodePort       = 9100
	BlackboxPort   = 9115
	PostgresPort   = 9187
	// ApachePort is where the Apache exporter of Kargo's MapServer and MapCache images
	// (kargo/mapserver, kargo/mapcache) serves Apache's figures in each of their tasks.
	ApachePort = 9117
	// PathPrefix is where Prometheus answers, directly and through the gateway.
	PathPrefix = "/prometheus"
	// GatewayMetricsPort is the gateway's Caddy metrics port (gateway.Config.Metrics).
	GatewayMetricsPort = gateway.MetricsPort
	configPath         = "/etc/prometheus/kargo.yml"
	rulesPath          = "/etc/prometheus/kargo-rules.yml"
	dataDir            = "/var/lib/prometheus"
)

// Labels of the Prometheus service, read by `kargo metrics`.
const (
	// LabelGateway names the gateway that routes PathPrefix to Prometheus.
	LabelGateway = "io.kargo.prometheus.gateway"
)

// Config describes the monitoring of a stack. Common configures the Prometheus service
// (default name "prometheus").
type Config struct {
	builder.Common
	// Database is the PostGIS server the PostgreSQL exporter watches (none when nil).
	Database *postgis.Server
	// Watch are the services whose tasks are probed and counted against their replicas.
	// Each needs an endpoint (stack.Service.Endpoints): its first one is probed over HTTP.
	Watch []*stack.Service
	// Gateway is the name of the gateway service whose Caddy metrics are scraped (it needs
	// gateway.Config.Metrics) and that routes PathPrefix to Prometheus; empty: none.
	Gateway string
	// Backup is the stack's PostGIS backup job (services/pgbackup), whose last run
	// node-exporter reads from the backup volume: alerts when a run failed, or when the last
	// dump is older than one and a half times its schedule's period. Nil: none.
	Backup *stack.Service
	// Scheduler is the name of the stack's scheduler service (services/scheduler), built with
	// scheduler.Config.Metrics on a network Prometheus joins: its /metrics are scraped, with
	// alerts when a scheduled job's last run failed, when a due run did not start, and when no
	// scheduler runs. Empty: none.
	Scheduler string
	// ScrapeInterval is how often targets are scraped and rules evaluated (default 15s);
	// an alert fires once its condition held for two intervals.
	ScrapeInterval time.Duration
	// Retention of the samples (default 15 days).
	Retention time.Duration
	// Volume holds Prometheus' data (default "<name>-data").
	Volume string
}

// Monitoring is the Prometheus service and its exporters; add it to a stack as one part.
type Monitoring struct {
	// Prometheus scrapes the targets and evaluates the alert rules.
	Prometheus *stack.Service
	// Node runs node-exporter on every node (global).
	Node *stack.Service
	// Blackbox probes the tasks of the watched services.
	Blackbox *stack.Service
	// Postgres exports the PostGIS server's metrics; nil without Config.Database.
	Postgres *stack.Service
	// Proxy is the socket proxy (read-only "discovery" profile) Prometheus discovers the
	// stack's tasks through; it declares the internal network only Prometheus joins.
	Proxy *stack.Service
}

// AddTo adds every service of the monitoring to the stack.
func (m *Monitoring) AddTo(s *stack.Stack) {
	stack.Group{m.Prometheus, m.Node, m.Blackbox, m.Proxy}.AddTo(s)
	if m.Postgres != nil {
		m.Postgres.AddTo(s)
	}
}

// Route is the gateway route to Prometheus: PathPrefix, unchanged (Prometheus answers under it).
func (m *Monitoring) Route() gateway.Route {
	return gateway.Route{Prefix: PathPrefix, Service: m.Prometheus, Port: PrometheusPort}
}

// New builds the monitoring services. Problems are recorded on the Prometheus service.
func New(cfg Config) *Monitoring {
	img := images.Ref("monitoring")
	p := builder.Base(cfg.Common, builder.Defaults{
		Name: "prometheus", Image: img,
		Resources: stack.Resources{CPULimit: 0.5, MemoryLimit: 512 * stack.MiB, CPUReservation: 0.05, MemoryReservation: 64 * stack.MiB},
	})
	m := &Monitoring{Prometheus: p}
	interval := cmp.Or(cfg.ScrapeInterval, 15*time.Second)
	retention := cmp.Or(cfg.Retention, 15*24*time.Hour)
	if interval < time.Second {
		p.Problemf("config.scrapeInterval", "must be at least 1s, got %s", interval)
		interval = time.Second
	}
	if cfg.Replicas > 1 {
		p.Problemf("config.replicas", "one Prometheus owns one data volume (got %d replicas)", cfg.Replicas)
	}
	prefix := p.Name + "-"
	// The networks Prometheus shares with its targets; the proxy's network comes on top.
	nets := slices.Clone(p.Networks)
	if len(nets) == 0 {
		nets = []string{stack.DefaultNetwork}
	}
	m.Proxy = scheduler.Proxy(scheduler.ProxyConfig{Common: builder.Common{Name: prefix + "proxy"}, Network: prefix + "engine", Profile: socketproxy.ProfileDiscovery})
	p.Networks = append(slices.Clone(nets), prefix+"engine")
	sd := swarmSD{Host: fmt.Sprintf("tcp://%s:%d", m.Proxy.Name, scheduler.ProxyPort), Networks: nets}
	small := stack.Resources{CPULimit: 0.25, MemoryLimit: 64 * stack.MiB, CPUReservation: 0.01, MemoryReservation: 16 * stack.MiB}
	m.Node = &stack.Service{
		Name: prefix + "node", Image: img, Mode: stack.Global, User: "nobody",
		Command: []string{"/usr/bin/prometheus-node-exporter", "--path.procfs=/host/proc", "--path.sysfs=/host/sys",
			fmt.Sprintf("--web.listen-address=:%d", NodePort)},
		Mounts: []stack.Mount{
			{Type: stack.BindMount, Source: "/proc", Target: "/host/proc", ReadOnly: true},
			{Type: stack.BindMount, Source: "/sys", Target: "/host/sys", ReadOnly: true},
		},
		Resources: small, Networks: slices.Clone(nets),
		Health: httpHealth(NodePort, "/metrics"),
	}
	m.Blackbox = &stack.Service{
		Name: prefix + "blackbox", Image: img, User: "nobody", Replicas: stack.Ptr(uint64(1)),
		Command: []string{"/usr/bin/prometheus-blackbox-exporter", "--config.file=/etc/prometheus/blackbox.yml",
			fmt.Sprintf("--web.listen-address=:%d", BlackboxPort)},
		Resources: small, Networks: slices.Clone(nets),
		Health: httpHealth(BlackboxPort, "/metrics"),
	}
	var backup *backupWatch
	if b := cfg.Backup; b != nil {
		vol := b.Labels[pgbackup.LabelVolume]
		sched, err := stack.CronParser.Parse(b.Schedule)
		switch {
		case vol == "" || b.Schedule == "":
			p.Problemf("config.backup", "service %q is not a scheduled backup job of services/pgbackup", b.Name)
		case err != nil:
			p.Problemf("config.backup", "service %q: schedule %q: %v", b.Name, b.Schedule, err)
		default:
			t0 := sched.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			period := sched.Next(t0).Sub(t0)
			if t0.IsZero() || period <= 0 {
				p.Problemf("config.backup", "service %q: schedule %q never runs", b.Name, b.Schedule)
				break
			}
			backup = &backupWatch{Name: b.Name, Period: period}
			m.Node.Mounts = append(m.Node.Mounts, stack.Mount{Type: stack.VolumeMount, Source: vol, Target: "/textfile", ReadOnly: true})
			m.Node.Command = append(m.Node.Command, "--collector.textfile.directory=/textfile")
		}
	}
	jobs := []scrape{
		{Name: "prometheus", Static: fmt.Sprintf("127.0.0.1:%d", PrometheusPort), Path: PathPrefix + "/metrics"},
		{Name: "node", Service: m.Node.Name, Port: NodePort},
		{Name: "blackbox", Service: m.Blackbox.Name, Port: BlackboxPort},
	}
	if cfg.Gateway != "" {
		jobs = append(jobs, scrape{Name: "gateway", Service: cfg.Gateway, Port: GatewayMetricsPort})
		p.Labels = map[string]string{LabelGateway: cfg.Gateway}
	}
	if cfg.Scheduler != "" {
		jobs = append(jobs, scrape{Name: "scheduler", Service: cfg.Scheduler, Port: scheduler.MetricsPort, HonorLabels: true})
	}
	if db := cfg.Database; db != nil {
		pg := &stack.Service{
			Name: prefix + "postgres", Image: img, User: "nobody", Replicas: stack.Ptr(uint64(1)),
			Command: []string{"/usr/bin/prometheus-postgres-exporter", fmt.Sprintf("--web.listen-address=:%d", PostgresPort)},
			Env: map[string]string{
				"DATA_SOURCE_URI":  fmt.Sprintf("%s:%d/%s?sslmode=disable", db.Host(), db.Port(), db.Database()),
				"DATA_SOURCE_USER": db.User(),
				// The exporter reads the password from the secret file itself.
				"DATA_SOURCE_PASS_FILE": stack.SecretPath(db.PasswordSecret()),
			},
			// Readable by the exporter's unprivileged user only.
			Secrets:   []stack.FileRef{{Source: db.PasswordSecret(), UID: "65534", GID: "65534", Mode: 0o400}},
			DependsOn: []string{db.Host()},
			Resources: small, Networks: slices.Clone(nets),
			Health: httpHealth(PostgresPort, "/metrics"),
		}
		m.Postgres = pg
		jobs = append(jobs, scrape{Name: "postgres", Service: pg.Name, Port: PostgresPort})
	}
	var watched []watch
	for i, w := range cfg.Watch {
		path := fmt.Sprintf("config.watch[%d]", i)
		switch {
		case w == nil || w.Name == "":
			p.Problemf(path, "is not a service")
			continue
		case len(w.Endpoints) == 0:
			p.Problemf(path, "service %q has no endpoint to probe", w.Name)
			continue
		case w.Mode != "" && w.Mode != stack.Replicated:
			p.Problemf(path, "service %q is %s: only replicated services are counted", w.Name, w.Mode)
			continue
		}
		ep := w.Endpoints[0]
		replicas := uint64(1)
		if w.Replicas != nil {
			replicas = *w.Replicas
		}
		watched = append(watched, watch{Name: w.Name, Replicas: replicas})
		jobs = append(jobs, scrape{Name: "task-" + w.Name, Service: w.Name, Port: int(ep.Port), Probe: probePath(ep),
			Blackbox: fmt.Sprintf("%s:%d", m.Blackbox.Name, BlackboxPort)})
		if apacheImage(w.Image) {
			jobs = append(jobs, scrape{Name: "apache-" + w.Name, Service: w.Name, Port: ApachePort})
		}
	}

	vol := cmp.Or(cfg.Volume, p.Name+"-data")
	p.User = "prometheus"
	p.Command = []string{"/usr/bin/prometheus",
		"--config.file=" + configPath,
		"--storage.tsdb.path=" + dataDir + "/metrics2",
		"--storage.tsdb.retention.time=" + promDuration(retention),
		fmt.Sprintf("--web.listen-address=:%d", PrometheusPort),
		"--web.route-prefix=" + PathPrefix,
		"--web.external-url=" + PathPrefix + "/",
	}
	p.Mounts = []stack.Mount{{Type: stack.VolumeMount, Source: vol, Target: dataDir}}
	// One Prometheus writes one TSDB: a second task on the same volume (an update started
	// before the old task stopped, or a second replica) cannot lock it and exits.
	p.Update = &stack.UpdatePolicy{Order: stack.StopFirst}
	if cfg.Replicas > 1 {
		p.Problemf("config.replicas", "one Prometheus writes one data volume (got %d replicas)", cfg.Replicas)
	}
	p.Declares.Volumes = append(p.Declares.Volumes, stack.Volume{Name: vol})
	conf, rules := p.Name+"-config", p.Name+"-rules"
	p.Declares.Configs = append(p.Declares.Configs,
		stack.Config{Name: conf, Data: renderConfig(jobs, sd, interval)},
		stack.Config{Name: rules, Data: renderRules(watched, backup, cfg.Scheduler != "", cfg.Gateway != "", cfg.Database != nil, interval)})
	p.Configs = append(p.Configs,
		stack.FileRef{Source: conf, Target: configPath},
		stack.FileRef{Source: rules, Target: rulesPath})
	p.Health = httpHealth(PrometheusPort, PathPrefix+"/-/ready")
	p.Health.StartPeriod = 30 * time.Second
	p.StopGracePeriod = 30 * time.Second
	p.Endpoints = []stack.Endpoint{{Kind: stack.HTTP, Port: PrometheusPort, Path: PathPrefix + "/-/ready"}}
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[stack.LabelRole] = "prometheus"
	for _, s := range []*stack.Service{m.Node, m.Blackbox, m.Postgres} {
		if s != nil {
			s.Labels = map[string]string{"io.kargo.product": "monitoring"}
		}
	}
	return m
}

// apacheImage reports whether image is one of Kargo's Apache-based images that run the Apache
// exporter on ApachePort (MapServer's and MapCache's), whatever registry it comes from.
func apacheImage(image string) bool {
	repo := image
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	for _, p := range []string{"mapserver", "mapcache"} {
		if repo == images.Prefix+p || strings.HasSuffix(repo, "/"+images.Prefix+p) {
			return true
		}
	}
	return false
}

// probePath is what the blackbox exporter asks a task for: GetCapabilities of an OGC
// endpoint, the path of a plain HTTP one.
func probePath(ep stack.Endpoint) string {
	switch ep.Kind {
	case stack.WMS, stack.WFS, stack.WCS, stack.WMTS:
		sep := "?"
		if strings.Contains(ep.Path, "?") {
			sep = "&"
		}
		return ep.Path + sep + "SERVICE=" + string(ep.Kind) + "&REQUEST=GetCapabilities"
	}
	return ep.Path
}

func httpHealth(port int, path string) *stack.Health {
	return &stack.Health{
		Test:     []string{"CMD", "curl", "-fsS", "-o", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d%s", port, path)},
		Interval: 10 * time.Second, Timeout: 5 * time.Second, StartPeriod: 10 * time.Second, Retries: 3,
	}
}

// promDuration writes d the way Prometheus reads durations (whole seconds at least).
func promDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	if d < time.Second {
		d = time.Second
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

type scrape struct {
	Name string
	// Static is a host:port target; Service a service of the stack whose running tasks are
	// the targets (discovered through the socket proxy), at Port.
	Static, Service string
	Port            int
	Path            string
	// Probe, when set, is the path the blackbox exporter at Blackbox asks each task for.
	Probe, Blackbox string
	// HonorLabels keeps the "service" label of the scraped series (the scheduler's series
	// name the job they are about).
	HonorLabels bool
}

// swarmSD is the Docker Swarm discovery every job shares: one identical dockerswarm_sd_config,
// which Prometheus runs once for all of them.
type swarmSD struct {
	// Host is the socket proxy's address.
	Host string
	// Networks are the stack networks (Kargo names) Prometheus reaches its targets on.
	Networks []string
}

type backupWatch struct {
	Name   string
	Period time.Duration
}

type watch struct {
	Name     string
	Replicas uint64
}

// renderConfig renders prometheus.yml for the scrape jobs (YAML written by hand: every value is
// quoted JSON, which YAML reads as is).
func renderConfig(jobs []scrape, sd swarmSD, interval time.Duration) []byte {
	var b strings.Builder
	iv := promDuration(interval)
	fmt.Fprintf(&b, "# Generated by Kargo's monitoring builder.\nglobal:\n  scrape_interval: %s\n  evaluation_interval: %s\n", iv, iv)
	fmt.Fprintf(&b, "rule_files:\n  - %s\n", rulesPath)
	b.WriteString("scrape_configs:\n")
	nets := make([]string, len(sd.Networks))
	for i, n := range sd.Networks {
		nets[i] = regexp.QuoteMeta(n)
	}
	for _, j := range jobs {
		fmt.Fprintf(&b, "  - job_name: %q\n", j.Name)
		if j.Path != "" {
			fmt.Fprintf(&b, "    metrics_path: %q\n", j.Path)
		}
		if j.HonorLabels {
			b.WriteString("    honor_labels: true\n")
		}
		if j.Static != "" {
			fmt.Fprintf(&b, "    static_configs:\n      - targets: [%q]\n", j.Static)
			continue
		}
		// The same discovery for every job (Prometheus shares identical ones): the stack's
		// running tasks, one target per network address (port 80 until relabelled).
		fmt.Fprintf(&b, "    dockerswarm_sd_configs:\n      - host: %q\n        role: tasks\n        port: 80\n        refresh_interval: %s\n", sd.Host, iv)
		b.WriteString("        filters:\n          - name: desired-state\n            values: [\"running\"]\n")
		b.WriteString("    relabel_configs:\n")
		// Keep the tasks of the job's service, at their address on a network Prometheus
		// joins (Kargo labels its services and networks with their names in the stack).
		fmt.Fprintf(&b, "      - source_labels: [__meta_dockerswarm_service_label_io_kargo_name]\n        regex: %q\n        action: keep\n", regexp.QuoteMeta(j.Service))
		fmt.Fprintf(&b, "      - source_labels: [__meta_dockerswarm_network_label_io_kargo_name]\n        regex: %q\n        action: keep\n", strings.Join(nets, "|"))
		fmt.Fprintf(&b, "      - source_labels: [__address__]\n        regex: \"(.+):[0-9]+\"\n        target_label: __address__\n        replacement: %q\n", fmt.Sprintf("${1}:%d", j.Port))
		b.WriteString("      - source_labels: [__meta_dockerswarm_service_label_io_kargo_name]\n        target_label: service\n")
		if j.Probe == "" {
			continue
		}
		fmt.Fprintf(&b, "      - source_labels: [__address__]\n        target_label: __param_target\n        replacement: %q\n", "http://${1}"+j.Probe)
		fmt.Fprintf(&b, "      - source_labels: [__address__]\n        target_label: instance\n")
		fmt.Fprintf(&b, "      - target_label: __address__\n        replacement: %q\n", j.Blackbox)
		fmt.Fprintf(&b, "    metrics_path: /probe\n    params:\n      module: [http_2xx]\n")
	}
	return []byte(b.String())
}

// renderRules renders the alert rules.
func renderRules(watched []watch, backup *backupWatch, sched, gateway, postgres bool, interval time.Duration) []byte {
	var b strings.Builder
	forDur := promDuration(2 * interval)
	rule := func(name, expr, dur, summary string, labels map[string]string) {
		fmt.Fprintf(&b, "      - alert: %s\n        expr: %q\n        for: %s\n        labels:\n          severity: critical\n", name, expr, dur)
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "          %s: %q\n", k, labels[k])
		}
		fmt.Fprintf(&b, "        annotations:\n          summary: %q\n", summary)
	}
	b.WriteString("# Generated by Kargo's monitoring builder.\ngroups:\n  - name: kargo\n    rules:\n")
	for _, w := range watched {
		rule("KargoReplicasBelowDesired",
			fmt.Sprintf(`(count(probe_success{job="task-%s"} == 1) or vector(0)) < %d`, w.Name, w.Replicas), forDur,
			fmt.Sprintf("%s: fewer than %d task(s) answer", w.Name, w.Replicas), map[string]string{"service": w.Name})
	}
	if len(watched) > 0 {
		rule("KargoTaskFailing", `probe_success == 0`, forDur, "{{ $labels.service }} task {{ $labels.instance }} fails its probe", nil)
	}
	if gateway {
		rule("KargoGateway5xx",
			`sum(rate(caddy_http_request_duration_seconds_count{code=~"5.."}[5m])) / sum(rate(caddy_http_request_duration_seconds_count[5m])) > 0.05`,
			"5m", "more than 5% of the gateway's responses are 5xx", nil)
	}
	if postgres {
		rule("KargoPostGISDown", `pg_up == 0 or absent(pg_up)`, forDur, "the PostgreSQL exporter cannot reach PostGIS", nil)
	}
	if backup != nil {
		late := int64((backup.Period + backup.Period/2) / time.Second)
		labels := map[string]string{"service": backup.Name}
		rule("KargoBackupFailed", `kargo_backup_last_run_success == 0`, forDur,
			backup.Name+": the last backup run made no dump", labels)
		rule("KargoScheduledJobLate", fmt.Sprintf(`time() - max(kargo_backup_last_run_timestamp_seconds) > %d`, late), forDur,
			fmt.Sprintf("%s: no run in the last %ds (its schedule runs it every %s)", backup.Name, late, backup.Period), labels)
		rule("KargoBackupTooOld", fmt.Sprintf(`time() - max(kargo_backup_last_success_timestamp_seconds) > %d`, late), forDur,
			fmt.Sprintf("%s: the last dump is older than %ds", backup.Name, late), labels)
	}
	if sched {
		failed := `kargo_job_last_run_success == 0`
		if backup != nil {
			failed = fmt.Sprintf(`kargo_job_last_run_success{service!=%q} == 0`, backup.Name)
		}
		rule("KargoScheduledJobFailed", failed, forDur, "{{ $labels.service }}: the last run failed", nil)
		rule("KargoScheduledJobMissedRun", `kargo_job_due_timestamp_seconds > kargo_job_last_run_timestamp_seconds`, forDur,
			"{{ $labels.service }}: a tick of its schedule came and no run started", nil)
		rule("KargoSchedulerDown", `absent(up{job="scheduler"} == 1)`, forDur,
			"no scheduler task answers: scheduled jobs do not run", nil)
	}
	rule("KargoTargetDown", `up == 0`, forDur, "{{ $labels.job }} target {{ $labels.instance }} does not answer", nil)
	return []byte(b.String())
}

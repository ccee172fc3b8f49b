// Package scheduler is Kargo's job scheduler: a small service that re-runs the scheduled job
// services of its stack (stack.Service.Schedule, a 6-field cron string, seconds first) and
// records each run in labels that `kargo status` shows.
//
// Swarm has no cron. Upstream Kargo left scheduling to each job's container (Krawler's
// in-process cron); here a job is a Swarm job (replicated-job or global-job) that runs to
// completion, and the scheduler starts its next run by updating the service. The scheduler
// has no Docker socket: it reaches the Engine API through a socket proxy (kargo-socket-proxy,
// see Proxy) that allows only the calls it makes, for its own stack, and refuses the rest.
//
// Schedules are in UTC, wherever the scheduler runs, unless prefixed with CRON_TZ= and an
// IANA time zone name: "CRON_TZ=Europe/Paris 0 0 3 * * *" runs at 3:00 Paris time, daylight
// saving included. The scheduler image is FROM scratch, so the binary embeds its own time zone
// database (time/tzdata).
//
// Add it to any stack that has scheduled jobs, explicitly or with Ensure:
//
//	st := stack.New("vigicrues", db, loader)
//	scheduler.Ensure(st) // adds scheduler.New(scheduler.Config{}) when a job has a Schedule
//
// Its image, kargo/scheduler, holds a static Go binary compiled from this module by the Go
// toolchain of the machine that applies the stack (see Image): a deploy program is a Go
// program, so its user has Go.
package scheduler

import (
	"fmt"
	"time"

	"github.com/kalisio/kargo/internal/schedrun"
	"github.com/kalisio/kargo/internal/socketproxy"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/stack"
)

// DefaultName is the service name New uses when Config.Name is empty.
const DefaultName = "scheduler"

// Socket is the Docker Engine socket bind-mounted into the scheduler's socket proxy.
const Socket = "/var/run/docker.sock"

// Roles (values of stack.LabelRole). The socket proxy is the only Kargo service that mounts the
// Docker socket: it is found by stack.LabelRole=RoleProxy, its profile by LabelProxyProfile.
const (
	// RoleScheduler marks the scheduler service.
	RoleScheduler = "scheduler"
	// RoleProxy marks a socket proxy service (see Proxy).
	RoleProxy = "socket-proxy"
)

// LabelProxyProfile, on a socket proxy service, names the profile of calls it allows.
const LabelProxyProfile = "io.kargo.socket-proxy.profile"

// ProxyPort is the port a socket proxy listens on, inside its internal network.
const ProxyPort = 2375

// MetricsPort is the port the scheduler serves /metrics on when Config.Metrics is set (see
// Runner.WriteMetrics for the series).
const MetricsPort = 9262

// Config configures the scheduler service. The zero value is a complete configuration.
//
// Common configures the scheduler service: Name defaults to "scheduler" (its socket proxy is
// <Name>-proxy, on the internal network <Name>-engine); Image to kargo/scheduler:<Tag>, built
// by Kargo; Replicas must stay 1 (two schedulers would start every run twice); Resources
// default to 0.25 CPU and 64 MiB; Placement to node.role==manager; Networks are joined
// besides the proxy's network.
type Config struct {
	builder.Common
	// ProxyImage overrides the socket proxy image (default kargo/socket-proxy:<Tag>).
	ProxyImage string
	// Refresh is how often the scheduler re-reads the list of scheduled jobs (default 5s).
	Refresh time.Duration
	// Metrics makes the scheduler serve its jobs' last run, result and next tick in
	// Prometheus' format at :MetricsPort/metrics (services/monitoring's Config.Scheduler
	// scrapes them and alerts when a job failed or a run did not start on time). The
	// scheduler then also joins MetricsNetworks, where Prometheus reaches it.
	Metrics bool
	// MetricsNetworks are the networks the scheduler serves /metrics on (default: the
	// stack's default network); they must be networks Prometheus joins.
	MetricsNetworks []string
}

// defaults of the scheduler service.
var defaults = builder.Defaults{
	Name:      DefaultName,
	Image:     ImageRef,
	Replicas:  1,
	Resources: stack.Resources{CPULimit: 0.25, MemoryLimit: 64 * stack.MiB, CPUReservation: 0.01, MemoryReservation: 16 * stack.MiB},
}

// managerOnly is the default placement of the scheduler and of a socket proxy: the Docker
// socket a proxy opens is a manager's, and Kargo's images are built on the manager the
// deploy program talks to.
var managerOnly = stack.Placement{Constraints: []string{"node.role==manager"}}

// Scheduler is the scheduler service and the socket proxy it reaches the Engine API through.
// Add it to a stack as one part; change either service before adding it.
type Scheduler struct {
	// Service runs kargo-scheduler, as a non-root user, with no socket.
	Service *stack.Service
	// Proxy is the socket proxy with the "scheduler" profile (see Proxy).
	Proxy *stack.Service
}

// Services returns the scheduler service, then its socket proxy.
func (s *Scheduler) Services() []*stack.Service { return []*stack.Service{s.Service, s.Proxy} }

// AddTo adds both services (and their internal network) to the stack.
func (s *Scheduler) AddTo(st *stack.Stack) {
	for _, svc := range s.Services() {
		svc.AddTo(st)
	}
}

// New returns the scheduler: one replica of kargo-scheduler, running as the unprivileged user
// nobody (65534) with no Docker socket, and its socket proxy (see Proxy), the only service that
// mounts the socket. The scheduler joins only the proxy's internal network and talks to the
// Engine API at DOCKER_HOST=tcp://<Name>-proxy:2375, where the proxy allows exactly its calls:
// list the services of its stack, inspect one of them, list their tasks, and update a
// scheduled job of its stack in the one way that starts a run (run labels and ForceUpdate).
//
// With Config.Metrics, it also joins the networks it serves /metrics on (read-only figures of
// its jobs; the proxy stays out of reach there).
//
// The scheduler stays on a manager node like before (Kargo's images are built on the manager
// the deploy program talks to), though it no longer needs to.
func New(cfg Config) *Scheduler {
	svc := builder.Base(cfg.Common, defaults)
	name := svc.Name
	if cfg.Replicas > 1 {
		svc.Problemf("config.replicas", "one scheduler runs the jobs of a stack (got %d replicas): two would start every run twice", cfg.Replicas)
	}
	proxy := Proxy(ProxyConfig{Common: builder.Common{Name: name + "-proxy", Image: cfg.ProxyImage},
		Network: name + "-engine", Profile: socketproxy.ProfileScheduler})
	// Swarm expands this template per task: the scheduler learns its own stack from the
	// namespace label Kargo puts on every service.
	svc.Env[schedrun.EnvStack] = `{{index .Service.Labels "com.docker.stack.namespace"}}`
	svc.Env["DOCKER_HOST"] = fmt.Sprintf("tcp://%s:%d", proxy.Name, ProxyPort)
	if cfg.Refresh > 0 {
		svc.Env["KARGO_SCHEDULER_REFRESH"] = cfg.Refresh.String()
	}
	// nobody: the image is FROM scratch, the user needs no passwd entry.
	svc.User = "65534:65534"
	if placementUnset(svc.Placement) {
		svc.Placement = managerOnly
	}
	svc.Networks = append([]string{name + "-engine"}, svc.Networks...)
	if cfg.Metrics {
		svc.Env[schedrun.EnvMetrics] = fmt.Sprintf(":%d", MetricsPort)
		if len(cfg.MetricsNetworks) == 0 {
			svc.Networks = append(svc.Networks, stack.DefaultNetwork)
		}
		svc.Networks = append(svc.Networks, cfg.MetricsNetworks...)
	}
	svc.Mounts = []stack.Mount{
		// The heartbeat file of the health check (tmpfs is mode 1777: nobody may write).
		{Type: stack.TmpfsMount, Target: "/run/kargo", TmpfsSize: stack.MiB},
	}
	svc.Health = &stack.Health{
		Test:     []string{"CMD", "/kargo-scheduler", "health"},
		Interval: 10 * time.Second, Timeout: 5 * time.Second, StartPeriod: 10 * time.Second, Retries: 3,
	}
	// Restarted at once, whatever the exit code: a missed tick delays a run (stack's default
	// waits 5 s).
	svc.Restart = &stack.RestartPolicy{Condition: "any"}
	svc.DependsOn = []string{proxy.Name}
	svc.Labels = map[string]string{stack.LabelRole: RoleScheduler}
	return &Scheduler{Service: svc, Proxy: proxy}
}

func placementUnset(p stack.Placement) bool {
	return len(p.Constraints) == 0 && len(p.Spread) == 0 && p.MaxReplicasPerNode == 0
}

// ProxyConfig configures a socket proxy service.
//
// Common: Name is required (clients reach the proxy at tcp://<Name>:2375); Image defaults to
// kargo/socket-proxy:<Tag>, built by Kargo; Resources to 0.1 CPU and 32 MiB; Placement to
// node.role==manager (the socket it opens is a manager's). The proxy joins its Network only.
type ProxyConfig struct {
	builder.Common
	// Network is the internal network the proxy listens on (required): declared by the proxy,
	// internal (no outside access) and not attachable. Its clients join it; nothing else should.
	Network string
	// Profile names the calls allowed (socketproxy.ProfileScheduler, or ProfileDiscovery for
	// read-only discovery of the stack's services, tasks, networks and the nodes).
	Profile string
}

// proxyDefaults are a socket proxy's defaults (it has no default name).
var proxyDefaults = builder.Defaults{
	Image:     ProxyImageRef,
	Replicas:  1,
	Resources: stack.Resources{CPULimit: 0.1, MemoryLimit: 32 * stack.MiB, CPUReservation: 0.01, MemoryReservation: 8 * stack.MiB},
}

// Proxy returns a socket proxy service: kargo-socket-proxy on a manager node, the Docker socket
// bind-mounted, listening on its internal network only, allowing the Engine API calls of its
// profile for its own stack (the namespace label Swarm gives it) and refusing every other call
// with 403. It runs as root because the socket is root's; the socket is the only thing it
// mounts, and its image holds nothing but the proxy binary.
//
// The socket mount is marked: the service carries stack.LabelRole=RoleProxy and LabelProxyProfile.
func Proxy(cfg ProxyConfig) *stack.Service {
	svc := builder.Base(cfg.Common, proxyDefaults)
	if len(cfg.Networks) > 0 {
		svc.Problemf("config.networks", "a socket proxy joins its internal network only (Network)")
	}
	svc.Env[schedrun.EnvStack] = `{{index .Service.Labels "com.docker.stack.namespace"}}`
	svc.Env["KARGO_PROXY_PROFILE"] = cfg.Profile
	svc.Env["KARGO_PROXY_LISTEN"] = fmt.Sprintf(":%d", ProxyPort)
	if placementUnset(svc.Placement) {
		svc.Placement = managerOnly
	}
	svc.Networks = []string{cfg.Network}
	svc.Mounts = []stack.Mount{
		// Read-only only stops the container from replacing the socket file: the API
		// behind it accepts every call, which is why only the proxy opens it.
		{Type: stack.BindMount, Source: Socket, Target: Socket, ReadOnly: true, HostControl: true},
	}
	svc.Health = &stack.Health{
		Test:     []string{"CMD", "/kargo-socket-proxy", "health"},
		Interval: 10 * time.Second, Timeout: 5 * time.Second, StartPeriod: 5 * time.Second, Retries: 3,
	}
	// Restarted at once, whatever the exit code, as the scheduler that needs it.
	svc.Restart = &stack.RestartPolicy{Condition: "any"}
	svc.Labels = map[string]string{stack.LabelRole: RoleProxy, LabelProxyProfile: cfg.Profile}
	svc.Declares.Networks = []stack.Network{
		{Name: cfg.Network, Internal: true, Attachable: stack.Ptr(false),
			Labels: map[string]string{stack.LabelRole: RoleProxy}},
	}
	return svc
}

// Needed reports whether the stack has a scheduled job.
func Needed(st *stack.Stack) bool {
	for _, svc := range st.Services {
		if svc != nil && svc.Schedule != "" {
			return true
		}
	}
	return false
}

// Has reports whether the stack already has a scheduler service.
func Has(st *stack.Stack) bool {
	for _, svc := range st.Services {
		if svc != nil && svc.Labels[stack.LabelRole] == RoleScheduler {
			return true
		}
	}
	return false
}

// Ensure adds New(Config{}) (the scheduler and its socket proxy) to the stack when it has a
// scheduled job and no scheduler yet, and returns the stack. Without a scheduler, a scheduled job runs once, when it is applied.
func Ensure(st *stack.Stack) *stack.Stack {
	if Needed(st) && !Has(st) {
		st.Add(New(Config{}))
	}
	return st
}

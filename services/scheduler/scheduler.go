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

	"github.com/kalisio/kargo/internal/socketproxy"
	"github.com/kalisio/kargo/stack"
)

// DefaultName is the service name New uses when Config.Name is empty.
const DefaultName = "scheduler"

// LabelRole marks the scheduler service, so Ensure finds it whatever its name.
const LabelRole = "io.kargo.role"

// EnvStack is the environment variable that names the stack whose jobs the scheduler runs.
// New sets it with a Swarm template to the service's own com.docker.stack.namespace label,
// so a scheduler can only ever touch the stack it was deployed with.
const EnvStack = "KARGO_STACK"

// Socket is the Docker Engine socket bind-mounted into the scheduler's socket proxy.
const Socket = "/var/run/docker.sock"

// Roles (values of LabelRole). The socket proxy is the only Kargo service that mounts the
// Docker socket: it is found by LabelRole=RoleProxy, its profile by LabelProxyProfile.
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

// EnvMetrics is the environment variable holding the address the scheduler serves /metrics
// at (unset: it serves nothing).
const EnvMetrics = "KARGO_SCHEDULER_METRICS"

// Config configures the scheduler service. The zero value is a complete configuration.
type Config struct {
	// Name of the service (default "scheduler"). Its socket proxy is <Name>-proxy, on the
	// internal network <Name>-engine.
	Name string
	// Image overrides the scheduler image (default kargo/scheduler:<Tag>, built by Kargo).
	Image string
	// ProxyImage overrides the socket proxy image (default kargo/socket-proxy:<Tag>).
	ProxyImage string
	// Refresh is how often the scheduler re-reads the list of scheduled jobs (default 5s).
	Refresh time.Duration
	// Resources default to 0.25 CPU and 64 MiB.
	Resources *stack.Resources
	// Metrics makes the scheduler serve its jobs' last run, result and next tick in
	// Prometheus' format at :MetricsPort/metrics (services/monitoring's Config.Scheduler
	// scrapes them and alerts when a job failed or a run did not start on time). The
	// scheduler then also joins MetricsNetworks, where Prometheus reaches it.
	Metrics bool
	// MetricsNetworks are the networks the scheduler serves /metrics on (default: the
	// stack's default network); they must be networks Prometheus joins.
	MetricsNetworks []string
}

// Scheduler is the scheduler service and the socket proxy it reaches the Engine API through.
// Add it to a stack as one part; change either service before adding it.
type Scheduler struct {
	// Service runs kargo-scheduler, as a non-root user, with no socket.
	Service *stack.Service
	// Proxy is the socket proxy with the "scheduler" profile (see Proxy).
	Proxy *stack.Service
}

// AddTo adds both services (and their internal network) to the stack.
func (s *Scheduler) AddTo(st *stack.Stack) { st.Add(s.Service, s.Proxy) }

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
	name := cfg.Name
	if name == "" {
		name = DefaultName
	}
	img := cfg.Image
	if img == "" {
		img = ImageRef
	}
	res := stack.Resources{CPULimit: 0.25, MemoryLimit: 64 * stack.MiB, CPUReservation: 0.01, MemoryReservation: 16 * stack.MiB}
	if cfg.Resources != nil {
		res = *cfg.Resources
	}
	proxy := Proxy(ProxyConfig{Name: name + "-proxy", Network: name + "-engine", Profile: socketproxy.ProfileScheduler, Image: cfg.ProxyImage})
	env := map[string]string{
		// Swarm expands this template per task: the scheduler learns its own stack from the
		// namespace label Kargo puts on every service.
		EnvStack:      `{{index .Service.Labels "com.docker.stack.namespace"}}`,
		"DOCKER_HOST": fmt.Sprintf("tcp://%s:%d", proxy.Name, ProxyPort),
	}
	if cfg.Refresh > 0 {
		env["KARGO_SCHEDULER_REFRESH"] = cfg.Refresh.String()
	}
	nets := []string{name + "-engine"}
	if cfg.Metrics {
		env[EnvMetrics] = fmt.Sprintf(":%d", MetricsPort)
		if len(cfg.MetricsNetworks) == 0 {
			nets = append(nets, stack.DefaultNetwork)
		}
		nets = append(nets, cfg.MetricsNetworks...)
	}
	svc := &stack.Service{
		Name:  name,
		Image: img,
		Env:   env,
		// nobody: the image is FROM scratch, the user needs no passwd entry.
		User:      "65534:65534",
		Placement: stack.Placement{Constraints: []string{"node.role==manager"}},
		Resources: res,
		Networks:  nets,
		Mounts: []stack.Mount{
			// The heartbeat file of the health check (tmpfs is mode 1777: nobody may write).
			{Type: stack.TmpfsMount, Target: "/run/kargo", TmpfsSize: stack.MiB},
		},
		Health: &stack.Health{
			Test:     []string{"CMD", "/kargo-scheduler", "health"},
			Interval: 10 * time.Second, Timeout: 5 * time.Second, StartPeriod: 10 * time.Second, Retries: 3,
		},
		Restart:   &stack.RestartPolicy{Condition: "any"},
		DependsOn: []string{proxy.Name},
		Labels:    map[string]string{LabelRole: RoleScheduler},
	}
	return &Scheduler{Service: svc, Proxy: proxy}
}

// ProxyConfig configures a socket proxy service.
type ProxyConfig struct {
	// Name of the proxy service (required); its clients reach it at tcp://<Name>:2375.
	Name string
	// Network is the internal network the proxy listens on (required): declared by the proxy,
	// internal (no outside access) and not attachable. Its clients join it; nothing else should.
	Network string
	// Profile names the calls allowed (socketproxy.ProfileScheduler, or ProfileDiscovery for
	// read-only discovery of the stack's services, tasks, networks and the nodes).
	Profile string
	// Image overrides the proxy image (default kargo/socket-proxy:<Tag>, built by Kargo).
	Image string
	// Resources default to 0.1 CPU and 32 MiB.
	Resources *stack.Resources
}

// Proxy returns a socket proxy service: kargo-socket-proxy on a manager node, the Docker socket
// bind-mounted, listening on its internal network only, allowing the Engine API calls of its
// profile for its own stack (the namespace label Swarm gives it) and refusing every other call
// with 403. It runs as root because the socket is root's; the socket is the only thing it
// mounts, and its image holds nothing but the proxy binary.
//
// The socket mount is marked: the service carries LabelRole=RoleProxy and LabelProxyProfile.
func Proxy(cfg ProxyConfig) *stack.Service {
	img := cfg.Image
	if img == "" {
		img = ProxyImageRef
	}
	res := stack.Resources{CPULimit: 0.1, MemoryLimit: 32 * stack.MiB, CPUReservation: 0.01, MemoryReservation: 8 * stack.MiB}
	if cfg.Resources != nil {
		res = *cfg.Resources
	}
	return &stack.Service{
		Name:  cfg.Name,
		Image: img,
		Env: map[string]string{
			EnvStack:              `{{index .Service.Labels "com.docker.stack.namespace"}}`,
			"KARGO_PROXY_PROFILE": cfg.Profile,
			"KARGO_PROXY_LISTEN":  fmt.Sprintf(":%d", ProxyPort),
		},
		Placement: stack.Placement{Constraints: []string{"node.role==manager"}},
		Resources: res,
		Networks:  []string{cfg.Network},
		Mounts: []stack.Mount{
			// Read-only only stops the container from replacing the socket file: the API
			// behind it accepts every call, which is why only the proxy opens it.
			{Type: stack.BindMount, Source: Socket, Target: Socket, ReadOnly: true, HostControl: true},
		},
		Health: &stack.Health{
			Test:     []string{"CMD", "/kargo-socket-proxy", "health"},
			Interval: 10 * time.Second, Timeout: 5 * time.Second, StartPeriod: 5 * time.Second, Retries: 3,
		},
		Restart: &stack.RestartPolicy{Condition: "any"},
		Labels:  map[string]string{LabelRole: RoleProxy, LabelProxyProfile: cfg.Profile},
		Declares: stack.Objects{Networks: []stack.Network{
			{Name: cfg.Network, Internal: true, Attachable: stack.Ptr(false),
				Labels: map[string]string{LabelRole: RoleProxy}},
		}},
	}
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
		if svc != nil && svc.Labels[LabelRole] == RoleScheduler {
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

// Package scheduler is Kargo's job scheduler: a small service that re-runs the scheduled job
// services of its stack (stack.Service.Schedule, a 6-field cron string, seconds first) and
// records each run in labels that `kargo status` shows.
//
// Swarm has no cron. Upstream Kargo left scheduling to each job's container (Krawler's
// in-process cron); here a job is a Swarm job (replicated-job or global-job) that runs to
// completion, and the scheduler starts its next run by updating the service. The scheduler
// runs on a manager node and is the only service of a stack that gets the Docker socket.
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
	"time"

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

// Socket is the Docker Engine socket bind-mounted into the scheduler.
const Socket = "/var/run/docker.sock"

// Config configures the scheduler service. The zero value is a complete configuration.
type Config struct {
	// Name of the service (default "scheduler").
	Name string
	// Image overrides the scheduler image (default kargo/scheduler:<Tag>, built by Kargo).
	Image string
	// Refresh is how often the scheduler re-reads the list of scheduled jobs (default 5s).
	Refresh time.Duration
	// Resources default to 0.25 CPU and 64 MiB.
	Resources *stack.Resources
}

// New returns the scheduler service: one replica on a manager node (the Engine API of a
// worker cannot update services), with the Docker socket bind-mounted read-only.
//
// The read-only flag only stops the container from replacing or removing the socket file: the
// Engine API behind it accepts every call, writes included, from whoever can open the socket.
// That is root on the node in effect, and why no other Kargo service gets the socket. The
// scheduler itself only lists, inspects and updates the job services of its own stack.
func New(cfg Config) *stack.Service {
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
	env := map[string]string{
		// Swarm expands this template per task: the scheduler learns its own stack from the
		// namespace label Kargo puts on every service.
		EnvStack: `{{index .Service.Labels "com.docker.stack.namespace"}}`,
	}
	if cfg.Refresh > 0 {
		env["KARGO_SCHEDULER_REFRESH"] = cfg.Refresh.String()
	}
	return &stack.Service{
		Name:      name,
		Image:     img,
		Env:       env,
		Placement: stack.Placement{Constraints: []string{"node.role==manager"}},
		Resources: res,
		Mounts: []stack.Mount{
			{Type: stack.BindMount, Source: Socket, Target: Socket, ReadOnly: true, HostControl: true},
			// The heartbeat file of the health check.
			{Type: stack.TmpfsMount, Target: "/run/kargo", TmpfsSize: stack.MiB},
		},
		Health: &stack.Health{
			Test:     []string{"CMD", "/kargo-scheduler", "health"},
			Interval: 10 * time.Second, Timeout: 5 * time.Second, StartPeriod: 10 * time.Second, Retries: 3,
		},
		Labels: map[string]string{LabelRole: "scheduler"},
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
		if svc != nil && svc.Labels[LabelRole] == "scheduler" {
			return true
		}
	}
	return false
}

// Ensure adds New(Config{}) to the stack when it has a scheduled job and no scheduler yet,
// and returns the stack. Without a scheduler, a scheduled job runs once, when it is applied.
func Ensure(st *stack.Stack) *stack.Stack {
	if Needed(st) && !Has(st) {
		st.Add(New(Config{}))
	}
	return st
}

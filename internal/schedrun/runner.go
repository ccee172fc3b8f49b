// Package schedrun is the scheduler's runtime: the loop cmd/kargo-scheduler runs in the
// "scheduler" service a stack gets from package services/scheduler. It re-runs the stack's
// scheduled job services on their cron schedules, writing the run labels of package stack
// (stack.LabelRunLast...) as it starts each run.
package schedrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/robfig/cron/v3"
)

// Client is what the Runner needs of the Engine API client; *client.Client satisfies it.
type Client interface {
	// ServiceList lists services matching the options.
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	// ServiceInspect returns a service by ID or name.
	ServiceInspect(ctx context.Context, serviceID string, options client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	// ServiceUpdate replaces the spec of a service at a given version.
	ServiceUpdate(ctx context.Context, serviceID string, options client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	// TaskList lists tasks matching the options.
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)
}

var _ Client = (*client.Client)(nil)

// Runner re-runs the scheduled job services of one stack.
//
// On the Docker Engine, every update of a job service's spec starts a new job iteration and
// stops the tasks of the previous one, label-only updates included. So the Runner never
// writes a label on its own: it starts a run with one update that bumps the task template's
// ForceUpdate counter and writes the run labels together, and it never updates a job whose
// current run still has a task that is not in a terminal state (that tick is skipped and
// counted in stack.LabelRunSkipped at the next run).
type Runner struct {
	// Client talks to the Docker Engine (a Swarm manager).
	Client Client
	// Stack is the namespace (com.docker.stack.namespace) whose services the Runner touches.
	Stack string
	// Log receives one line per run, skipped tick and error (nil: discarded).
	Log io.Writer
	// Refresh is how often the list of scheduled services is re-read (default 5s).
	Refresh time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Heartbeat, when set, is called on every turn of the loop; the loop turns at least every
	// HeartbeatInterval, whatever Refresh and the schedules, and the scheduler's health check
	// watches it.
	Heartbeat func()
	// HeartbeatInterval caps the sleep between two turns of the loop (default and maximum
	// MaxHeartbeatInterval).
	HeartbeatInterval time.Duration

	mu   sync.Mutex
	jobs map[string]*job
	// invalid holds the invalid schedule last logged per service ID, so it is logged once
	// per distinct schedule rather than at every Sync.
	invalid map[string]string
}

// EnvStack is the environment variable that names the stack whose jobs the scheduler runs.
// services/scheduler sets it with a Swarm template to the service's own
// com.docker.stack.namespace label, so a scheduler can only ever touch the stack it was
// deployed with.
const EnvStack = "KARGO_STACK"

// EnvMetrics is the environment variable holding the address the scheduler serves /metrics
// at (unset: it serves nothing).
const EnvMetrics = "KARGO_SCHEDULER_METRICS"

// MaxHeartbeatInterval is the longest the run loop sleeps between two heartbeats. The
// scheduler's health check (kargo-scheduler health) allows a few of these intervals.
const MaxHeartbeatInterval = 20 * time.Second

type job struct {
	id, name string
	spec     string
	schedule cron.Schedule
	next     time.Time
	// due is the last tick that came (zero until the first one): its run should have started.
	due time.Time
	// skipped counts ticks skipped since the last run this Runner started.
	skipped int
}

// Stats are a job's counters, as the Runner saw them.
type Stats struct {
	// Service is the Swarm name of the job service, <stack>_<name>.
	Service string
	// Next is the time of the job's next tick.
	Next time.Time
	// Skipped counts the ticks skipped since the last run this Runner started.
	Skipped int
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, "%s kargo-scheduler: %s\n", r.now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
	}
}

// Run loops until ctx ends: it re-reads the scheduled services every Refresh and ticks each
// job when its schedule says so. Errors of one tick are logged, never fatal.
func (r *Runner) Run(ctx context.Context) error {
	if r.Stack == "" {
		return errors.New("kargo-scheduler: no stack namespace given")
	}
	refresh := r.Refresh
	if refresh <= 0 {
		refresh = 5 * time.Second
	}
	r.logf("watching scheduled jobs of stack %q", r.Stack)
	lastSync := time.Time{}
	for {
		now := r.now()
		if now.Sub(lastSync) >= refresh {
			if err := r.Sync(ctx); err != nil {
				r.logf("list services: %v", err)
			}
			lastSync = now
		}
		r.TickDue(ctx)
		if r.Heartbeat != nil {
			r.Heartbeat()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.sleep(r.now(), lastSync, refresh)):
		}
	}
}

// sleep is how long the loop sleeps after a turn at now: until the next sync, the next tick of
// a job or the next heartbeat, whichever comes first (at least 10 ms).
func (r *Runner) sleep(now, lastSync time.Time, refresh time.Duration) time.Duration {
	wake := lastSync.Add(refresh)
	r.mu.Lock()
	for _, j := range r.jobs {
		if j.next.Before(wake) {
			wake = j.next
		}
	}
	r.mu.Unlock()
	beat := r.HeartbeatInterval
	if beat <= 0 || beat > MaxHeartbeatInterval {
		beat = MaxHeartbeatInterval
	}
	d := wake.Sub(now)
	if d > beat {
		d = beat
	}
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	return d
}

// Sync reads the scheduled job services of the stack: new ones get their next tick, changed
// schedules are re-parsed, removed services are forgotten.
func (r *Runner) Sync(ctx context.Context) error {
	res, err := r.Client.ServiceList(ctx, client.ServiceListOptions{Filters: client.Filters{}.
		Add("label", stack.LabelNamespace+"="+r.Stack).Add("label", stack.LabelSchedule)})
	if err != nil {
		return err
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs == nil {
		r.jobs = map[string]*job{}
	}
	if r.invalid == nil {
		r.invalid = map[string]string{}
	}
	seen := map[string]bool{}
	for _, svc := range res.Items {
		// The filter is the engine's; check again so a fake or an old engine cannot make the
		// Runner touch another stack.
		if svc.Spec.Labels[stack.LabelNamespace] != r.Stack || !isJob(svc.Spec.Mode) {
			continue
		}
		spec := svc.Spec.Labels[stack.LabelSchedule]
		seen[svc.ID] = true
		if j := r.jobs[svc.ID]; j != nil && j.spec == spec {
			continue
		}
		if bad, ok := r.invalid[svc.ID]; ok && bad == spec {
			continue // logged when first seen
		}
		sched, err := stack.CronParser.Parse(spec)
		if err != nil {
			r.logf("service %s: invalid schedule %q: %v", svc.Spec.Name, spec, err)
			r.invalid[svc.ID] = spec
			delete(r.jobs, svc.ID)
			continue
		}
		delete(r.invalid, svc.ID)
		// Schedules without a CRON_TZ= prefix are in UTC, wherever the scheduler runs.
		j := &job{id: svc.ID, name: svc.Spec.Name, spec: spec, schedule: sched, next: sched.Next(now.UTC())}
		r.jobs[svc.ID] = j
		r.logf("service %s: schedule %q, next run %s", j.name, spec, j.next.UTC().Format(time.RFC3339))
	}
	for id, j := range r.jobs {
		if !seen[id] {
			r.logf("service %s: no longer scheduled", j.name)
			delete(r.jobs, id)
		}
	}
	for id := range r.invalid {
		if !seen[id] {
			delete(r.invalid, id)
		}
	}
	return nil
}

// TickDue ticks every job whose next tick has come, and moves its next tick past now (ticks
// missed while the scheduler was down or busy are not made up).
func (r *Runner) TickDue(ctx context.Context) {
	now := r.now()
	r.mu.Lock()
	var due []*job
	for _, j := range r.jobs {
		if !j.next.After(now) {
			due = append(due, j)
			j.due = j.next
			j.next = j.schedule.Next(now.UTC())
		}
	}
	r.mu.Unlock()
	sort.Slice(due, func(i, k int) bool { return due[i].name < due[k].name })
	for _, j := range due {
		if err := r.tick(ctx, j, now); err != nil {
			r.logf("service %s: %v", j.name, err)
		}
	}
}

// Stats returns the counters of every job the Runner knows, sorted by service name.
func (r *Runner) Stats() []Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Stats
	for _, j := range r.jobs {
		out = append(out, Stats{Service: j.name, Next: j.next, Skipped: j.skipped})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Service < out[k].Service })
	return out
}

func (r *Runner) tick(ctx context.Context, j *job, now time.Time) error {
	insp, err := r.Client.ServiceInspect(ctx, j.id, client.ServiceInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	svc := insp.Service
	if svc.Spec.Labels[stack.LabelNamespace] != r.Stack || !isJob(svc.Spec.Mode) {
		return errors.New("not a job of this stack anymore")
	}
	tasks, err := r.Client.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", svc.ID)})
	if err != nil {
		return fmt.Errorf("list tasks: %w", err)
	}
	if n := Active(tasks.Items); n > 0 {
		r.mu.Lock()
		j.skipped++
		skipped := j.skipped
		r.mu.Unlock()
		r.logf("service %s: tick skipped, the previous run is still going (%d task(s) active; %d tick(s) skipped since it started)",
			j.name, n, skipped)
		return nil
	}
	prev := Result(svc, tasks.Items)
	spec := svc.Spec
	labels := map[string]string{}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	r.mu.Lock()
	skipped := j.skipped
	next := j.next
	r.mu.Unlock()
	labels[stack.LabelRunLast] = now.UTC().Format(time.RFC3339)
	labels[stack.LabelRunResult] = stack.RunRunning
	labels[stack.LabelRunNext] = next.UTC().Format(time.RFC3339)
	labels[stack.LabelRunPrevious] = prev
	labels[stack.LabelRunRuns] = strconv.Itoa(atoi(labels[stack.LabelRunRuns]) + 1)
	labels[stack.LabelRunSkipped] = strconv.Itoa(atoi(labels[stack.LabelRunSkipped]) + skipped)
	spec.Labels = labels
	// The engine starts a new job iteration on any update; bumping ForceUpdate as well makes
	// the intent explicit and keeps the new tasks distinct from the previous run's.
	spec.TaskTemplate.ForceUpdate++
	if _, err := r.Client.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec}); err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	r.mu.Lock()
	j.skipped = 0
	r.mu.Unlock()
	r.logf("service %s: run %s started (previous run: %s; next tick %s)", j.name, labels[stack.LabelRunRuns], prev, labels[stack.LabelRunNext])
	return nil
}

// Active counts the tasks that are not in a terminal state: while there is one, a run is going.
func Active(tasks []swarm.Task) int {
	n := 0
	for _, t := range tasks {
		if !terminal(t.Status.State) {
			n++
		}
	}
	return n
}

func terminal(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed,
		swarm.TaskStateRejected, swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return true
	}
	return false
}

// Result is the result of the job's current iteration from its tasks: running while one of them
// is not in a terminal state, succeeded when as many completed as the job asks (every task for
// a global job), failed otherwise.
func Result(svc swarm.Service, tasks []swarm.Task) string {
	var iter uint64
	if svc.JobStatus != nil {
		iter = svc.JobStatus.JobIteration.Index
	}
	var completed, total, active uint64
	for _, t := range tasks {
		if t.JobIteration != nil && t.JobIteration.Index != iter {
			continue
		}
		total++
		switch {
		case !terminal(t.Status.State):
			active++
		case t.Status.State == swarm.TaskStateComplete:
			completed++
		}
	}
	switch {
	case active > 0:
		return stack.RunRunning
	case total == 0:
		return stack.RunUnknown
	}
	want := uint64(0)
	if rj := svc.Spec.Mode.ReplicatedJob; rj != nil {
		want = 1
		if rj.TotalCompletions != nil {
			want = *rj.TotalCompletions
		}
	} else {
		// A global job completes when no task failed; failed tasks retried on the same node
		// stay in the list, so count nodes that completed against nodes that have tasks.
		nodes, done := map[string]bool{}, map[string]bool{}
		for _, t := range tasks {
			if t.JobIteration != nil && t.JobIteration.Index != iter {
				continue
			}
			nodes[t.NodeID] = true
			if t.Status.State == swarm.TaskStateComplete {
				done[t.NodeID] = true
			}
		}
		if len(done) == len(nodes) {
			return stack.RunSucceeded
		}
		return stack.RunFailed
	}
	if completed >= want {
		return stack.RunSucceeded
	}
	return stack.RunFailed
}

func isJob(m swarm.ServiceMode) bool { return m.ReplicatedJob != nil || m.GlobalJob != nil }

func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

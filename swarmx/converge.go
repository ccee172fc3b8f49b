package swarmx

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// waitReady asks a.Ready until the service answers on its endpoints or ctx ends.
func (a *Applier) waitReady(ctx context.Context, stackName string, s Service) error {
	var last error
	for {
		if last = a.Ready(ctx, s); last == nil {
			a.progressf("service %s: endpoints ready", s.Name)
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.Canceled) {
				return &ServiceError{Stack: stackName, Service: s.Logical, Err: fmt.Errorf("interrupted while waiting for endpoints: %w", ctx.Err())}
			}
			return &ServiceError{Stack: stackName, Service: s.Logical, Err: fmt.Errorf("endpoints not ready in time: %w", last)}
		case <-time.After(a.poll()):
		}
	}
}

// failFastAfter is how many failed tasks of a new service (no previous spec to roll back to)
// make Apply give up before the timeout.
const failFastAfter = 3

// wait polls until the service converges: its update (if any) completed, every task of the
// current spec running (and healthy: Swarm reports a task with a health check as running
// only once healthy) at the desired count, or for jobs, every completion done. Tasks that
// failed before depsUp closed do not count towards failing fast: a service started with its
// dependencies may restart until they answer.
func (a *Applier) wait(ctx context.Context, stackName string, s Service, id string, updatedBefore time.Time, depsUp <-chan struct{}) error {
	// applied identifies the tasks of the spec applied; newRan tells whether one ever ran
	// (with a health check: passed it, Swarm counts such a task running only once healthy).
	applied, newRan := "", false
	hc := s.Spec.TaskTemplate.ContainerSpec.Healthcheck
	healthChecked := hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE"
	fail := func(err error, rolledBack bool, taskErr string) error {
		if rolledBack && applied != "" && !newRan && healthChecked {
			// A task Swarm stops for being unhealthy may well exit 0: say what failed.
			taskErr = "no task of the update passed its health check (last: " + cmp.Or(taskErr, "none") + ")"
		}
		return &ServiceError{Stack: stackName, Service: s.Logical, Err: err, RolledBack: rolledBack, TaskError: taskErr}
	}
	last := ""
	excused := 0 // failed tasks of the current spec seen before depsUp
	for {
		insp, err := a.Client.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
		if err != nil {
			return fail(fmt.Errorf("inspect: %w", err), false, "")
		}
		svc := insp.Service
		tasks, err := a.Client.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", id)})
		if err != nil {
			return fail(fmt.Errorf("list tasks: %w", err), false, "")
		}
		st := summarize(svc, tasks.Items)
		if svc.Spec.Labels[stack.LabelHash] == s.Hash {
			applied = specJSON(svc.Spec.TaskTemplate)
		}
		for _, task := range tasks.Items {
			if applied != "" && task.Status.State == swarm.TaskStateRunning && specJSON(task.Spec) == applied {
				newRan = true
			}
		}
		line := st.String()
		if line != last {
			a.progressf("service %s: %s", s.Name, line)
			last = line
		}
		us := svc.UpdateStatus
		fresh := us != nil && (updatedBefore.IsZero() || us.StartedAt == nil || !us.StartedAt.Before(updatedBefore))
		if fresh {
			switch us.State {
			case swarm.UpdateStatePaused:
				return fail(fmt.Errorf("update paused: %s", us.Message), false, st.LastError)
			case swarm.UpdateStateRollbackCompleted:
				return fail(fmt.Errorf("update failed: %s", us.Message), true, st.LastError)
			case swarm.UpdateStateRollbackPaused:
				return fail(fmt.Errorf("update failed and its rollback paused: %s", us.Message), false, st.LastError)
			}
		}
		rollingBack := fresh && us.State == swarm.UpdateStateRollbackStarted
		updating := fresh && us.State == swarm.UpdateStateUpdating
		if !rollingBack && !updating && st.Converged {
			if svc.Spec.Labels[stack.LabelHash] != s.Hash {
				return fail(errors.New("the service runs another spec than the one applied"), true, st.LastError)
			}
			return nil
		}
		select {
		case <-depsUp:
		default:
			excused = st.CurrentFailed
		}
		if updatedBefore.IsZero() && st.CurrentFailed-excused >= failFastAfter && !s.IsJob() {
			return fail(fmt.Errorf("%d tasks failed to start", st.CurrentFailed-excused), false, st.LastError)
		}
		if s.IsJob() && st.JobFailed {
			return fail(errors.New("job failed"), false, st.LastError)
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.Canceled) {
				return fail(fmt.Errorf("interrupted while waiting (%s): %w", line, ctx.Err()), false, st.LastError)
			}
			return fail(fmt.Errorf("not converged in time (%s)", line), false, st.LastError)
		case <-time.After(a.poll()):
		}
	}
}

// TaskSummary is the state of a service's tasks.
type TaskSummary struct {
	// Desired is the number of tasks (or completions for jobs) Swarm wants.
	Desired uint64
	// Running counts the tasks running now.
	Running uint64
	// Completed counts the finished tasks of a job's current run.
	Completed uint64
	// CurrentFailed counts failed or rejected tasks of the current spec.
	CurrentFailed int
	// LastError is the error of the most recent failed task.
	LastError string
	// Converged is true when every desired task of the current spec runs (or, for a job, completed).
	Converged bool
	// JobFailed is true when a job's tasks failed more often than its restart policy allows.
	JobFailed bool
}

// String returns e.g. "2/3 running" or "1/1 completed", with the last error if any.
func (t TaskSummary) String() string {
	s := fmt.Sprintf("%d/%d running", t.Running, t.Desired)
	if t.Completed > 0 {
		s = fmt.Sprintf("%d/%d completed", t.Completed, t.Desired)
	}
	if t.LastError != "" {
		s += " (last error: " + t.LastError + ")"
	}
	return s
}

// specJSON identifies a task spec, the same for a service's task template and its tasks. The
// engine reports Runtime "container" on a service spec holding configs but not on its tasks'
// specs: compare without it.
func specJSON(ts swarm.TaskSpec) string {
	ts.Runtime = ""
	// Nor does it copy an empty Placement or DNSConfig into the tasks.
	if ts.Placement != nil && len(ts.Placement.Constraints) == 0 && len(ts.Placement.Preferences) == 0 &&
		ts.Placement.MaxReplicas == 0 && len(ts.Placement.Platforms) == 0 {
		ts.Placement = nil
	}
	if cs := ts.ContainerSpec; cs != nil && cs.DNSConfig != nil && len(cs.DNSConfig.Nameservers) == 0 &&
		len(cs.DNSConfig.Search) == 0 && len(cs.DNSConfig.Options) == 0 {
		c := *cs
		c.DNSConfig = nil
		ts.ContainerSpec = &c
	}
	b, _ := json.Marshal(ts)
	return string(b)
}

func summarize(svc swarm.Service, tasks []swarm.Task) TaskSummary {
	var t TaskSummary
	want := specJSON(svc.Spec.TaskTemplate)
	current := func(task swarm.Task) bool { return specJSON(task.Spec) == want }
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].UpdatedAt.Before(tasks[j].UpdatedAt) })
	job := svc.Spec.Mode.ReplicatedJob != nil || svc.Spec.Mode.GlobalJob != nil
	stale := 0
	// Tasks Swarm wants on some node: the desired count of a global service when the engine
	// gives no ServiceStatus (it only does on a list with status, never on inspect).
	wanted := uint64(0)
	for _, task := range tasks {
		if job && svc.JobStatus != nil && task.JobIteration != nil && task.JobIteration.Index != svc.JobStatus.JobIteration.Index {
			continue
		}
		if task.DesiredState == swarm.TaskStateRunning || task.DesiredState == swarm.TaskStateComplete {
			wanted++
		}
		switch task.Status.State {
		case swarm.TaskStateFailed, swarm.TaskStateRejected:
			if task.Status.Err != "" {
				t.LastError = task.Status.Err
			}
			if current(task) {
				t.CurrentFailed++
			}
		}
		if task.DesiredState == swarm.TaskStateRunning && task.Status.State == swarm.TaskStateRunning {
			t.Running++
			if !current(task) {
				stale++
			}
		}
		if task.Status.State == swarm.TaskStateComplete {
			if job {
				t.Completed++
			} else {
				// A service task whose process exited, even with status 0, stopped serving and
				// is not replaced under the on-failure restart policy (Swarm also reports a
				// container it stopped for being unhealthy this way when it exits 0 on SIGTERM).
				t.LastError = "task exited with status 0: " + task.Status.Message
				if current(task) {
					t.CurrentFailed++
				}
			}
		}
	}
	switch {
	case svc.Spec.Mode.Replicated != nil && svc.Spec.Mode.Replicated.Replicas != nil:
		t.Desired = *svc.Spec.Mode.Replicated.Replicas
		t.Converged = t.Running == t.Desired && stale == 0
	case svc.Spec.Mode.ReplicatedJob != nil:
		if svc.Spec.Mode.ReplicatedJob.TotalCompletions != nil {
			t.Desired = *svc.Spec.Mode.ReplicatedJob.TotalCompletions
		}
		t.Converged = t.Completed >= t.Desired
		max := uint64(1)
		if rp := svc.Spec.TaskTemplate.RestartPolicy; rp != nil && rp.MaxAttempts != nil {
			max = *rp.MaxAttempts + 1
		}
		t.JobFailed = !t.Converged && uint64(t.CurrentFailed) >= max*maxU(t.Desired-t.Completed, 1) && t.Running == 0
	default: // global modes: every node with a task runs it
		t.Desired = wanted
		if svc.ServiceStatus != nil {
			t.Desired = svc.ServiceStatus.DesiredTasks
		}
		if job {
			t.Converged = t.Desired > 0 && t.Completed >= t.Desired
		} else {
			t.Converged = t.Desired > 0 && t.Running >= t.Desired && stale == 0
		}
	}
	return t
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

package swarmx

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// ServiceStatus is the state of one service of a stack.
type ServiceStatus struct {
	// Name is the Swarm name of the service, <stack>_<name>.
	Name string `json:"name"`
	// Image is the image reference of the service's containers.
	Image string `json:"image"`
	// Mode is replicated, global, replicated-job or global-job.
	Mode string `json:"mode"`
	// Desired is the number of tasks (or completions for jobs) Swarm wants.
	Desired uint64 `json:"desired"`
	// Running counts the tasks running now.
	Running uint64 `json:"running"`
	// Completed counts finished tasks of the current run for jobs.
	Completed uint64 `json:"completed,omitempty"`
	// Health is "healthy" when every desired task runs (Swarm reports tasks with a health
	// check as running only once healthy), "starting", "failing", "updating" (an update or
	// rollback in progress), "paused" (an update or rollback that stopped), "rolled back"
	// (the last update was undone: the service runs its previous spec) or, for jobs,
	// "running" and "completed".
	Health string `json:"health"`
	// Update is the state of the last update (updating, completed, rollback_completed...).
	Update string `json:"update,omitempty"`
	// LastError is the error of the most recent failed task, if any.
	LastError string `json:"lastError,omitempty"`
	// Ports are the published ports, as "published:target/protocol (mode)".
	Ports []string `json:"ports,omitempty"`
	// Schedule, LastRun, LastResult and NextRun are set for scheduled jobs.
	Schedule string `json:"schedule,omitempty"`
	// LastRun is the start time (RFC 3339, UTC) of the last scheduled run.
	LastRun string `json:"lastRun,omitempty"`
	// LastResult is the result of the last run: running, succeeded or failed.
	LastResult string `json:"lastResult,omitempty"`
	// NextRun is the time (RFC 3339, UTC) of the next scheduled run.
	NextRun string `json:"nextRun,omitempty"`
	// Nodes are the hostnames of the nodes running the service's tasks, one per running task
	// (node IDs when the client cannot list nodes).
	Nodes []string `json:"nodes,omitempty"`
	// Endpoints is the readiness of the service's OGC endpoints ("ready" or the error), when
	// the caller probes them (kargo status does, with Applier.Ready).
	Endpoints string `json:"endpoints,omitempty"`
}

// Status reports every service of the stack's namespace.
func (a *Applier) Status(ctx context.Context, stackName string) ([]ServiceStatus, error) {
	svcs, err := a.Client.ServiceList(ctx, client.ServiceListOptions{Filters: namespaceFilter(stackName), Status: true})
	if err != nil {
		return nil, fmt.Errorf("stack %q: list services: %w", stackName, err)
	}
	var out []ServiceStatus
	hosts := a.nodeHostnames(ctx)
	for _, svc := range svcs.Items {
		tasks, err := a.Client.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", svc.ID)})
		if err != nil {
			return nil, fmt.Errorf("stack %q: service %q: list tasks: %w", stackName, svc.Spec.Name, err)
		}
		t := summarize(svc, tasks.Items)
		st := ServiceStatus{
			Name: svc.Spec.Name, Mode: modeName(svc.Spec.Mode), Desired: t.Desired, Running: t.Running,
			Completed: t.Completed, LastError: t.LastError,
			Schedule:   svc.Spec.Labels[stack.LabelSchedule],
			LastRun:    svc.Spec.Labels[stack.LabelRunLast],
			LastResult: svc.Spec.Labels[stack.LabelRunResult],
			NextRun:    svc.Spec.Labels[stack.LabelRunNext],
		}
		st.Nodes = taskNodes(tasks.Items, hosts)
		if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
			st.Image = cs.Image
		}
		if svc.UpdateStatus != nil {
			st.Update = string(svc.UpdateStatus.State)
		}
		switch {
		case svc.Spec.Mode.ReplicatedJob != nil || svc.Spec.Mode.GlobalJob != nil:
			st.Health = "running"
			if t.Converged {
				st.Health = "completed"
			} else if t.JobFailed {
				st.Health = "failing"
			}
			scheduledRun(&st, t, time.Now())
		case svc.UpdateStatus != nil && (svc.UpdateStatus.State == swarm.UpdateStatePaused || svc.UpdateStatus.State == swarm.UpdateStateRollbackPaused):
			st.Health = "paused"
			if st.LastError == "" {
				st.LastError = svc.UpdateStatus.Message
			}
		case svc.UpdateStatus != nil && (svc.UpdateStatus.State == swarm.UpdateStateUpdating || svc.UpdateStatus.State == swarm.UpdateStateRollbackStarted):
			st.Health = "updating"
		case t.Converged && svc.UpdateStatus != nil && svc.UpdateStatus.State == swarm.UpdateStateRollbackCompleted:
			st.Health = "rolled back"
		case t.Converged:
			st.Health = "healthy"
		case t.CurrentFailed > 0:
			st.Health = "failing"
		default:
			st.Health = "starting"
		}
		if svc.Spec.EndpointSpec != nil {
			for _, p := range svc.Spec.EndpointSpec.Ports {
				st.Ports = append(st.Ports, fmt.Sprintf("%d:%d/%s (%s)", p.PublishedPort, p.TargetPort, p.Protocol, p.PublishMode))
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// scheduledRun completes the run fields of a scheduled job. The scheduler writes the run labels
// when it starts a run (a label-only update of a job service would start another run), so the
// result label says "running"; the live result comes from the tasks of the job's current
// iteration. A next-run time in the past (the scheduler skipped that tick because the run was
// still going) is replaced by the schedule's next tick. Before the scheduler's first run there
// is no next-run time: without a scheduler service, a scheduled job runs only when applied.
func scheduledRun(st *ServiceStatus, t TaskSummary, now time.Time) {
	if st.Schedule == "" {
		return
	}
	if st.LastResult == stack.RunRunning {
		switch {
		case t.Converged:
			st.LastResult = stack.RunSucceeded
		case t.JobFailed:
			st.LastResult = stack.RunFailed
		}
	}
	// Missing (no run yet: the scheduler writes it when it starts one) or past: compute it.
	if next, err := time.Parse(time.RFC3339, st.NextRun); err != nil || next.Before(now) {
		if sched, err := stack.CronParser.Parse(st.Schedule); err == nil {
			// The scheduler runs in UTC (its image has no local time zone): compute as it does.
			st.NextRun = sched.Next(now.UTC()).UTC().Format(time.RFC3339)
		}
	}
}

func modeName(m swarm.ServiceMode) string {
	switch {
	case m.Global != nil:
		return string(stack.Global)
	case m.ReplicatedJob != nil:
		return string(stack.ReplicatedJob)
	case m.GlobalJob != nil:
		return string(stack.GlobalJob)
	}
	return string(stack.Replicated)
}

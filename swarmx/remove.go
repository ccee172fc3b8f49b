package swarmx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Volumes also removes the stack's named volumes (their data is lost) and the secrets
	// Kargo generated for them.
	Volumes bool
	// Timeout bounds the wait for tasks to stop before networks and volumes are removed
	// (default 2 minutes).
	Timeout time.Duration
}

// Remove removes a stack: its services, then (once their tasks are gone) its networks,
// secrets and configs; its volumes only when asked. Generated secrets go with the volumes:
// data kept in a volume (a database initialised with a generated password) stays usable by
// the next apply, which finds the same secret. It works on the namespace label, so it
// also removes what `docker stack deploy` created under the same name.
func (a *Applier) Remove(ctx context.Context, stackName string, opts RemoveOptions) error {
	cur, err := Observe(ctx, a.Client, stackName)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range cur.Services {
		a.progressf("service %s: remove", s.Spec.Name)
		if _, err := a.Client.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("stack %q: service %q: remove: %w", stackName, s.Spec.Name, err))
		}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := a.waitNoTasks(wctx, stackName, cur.Services); err != nil {
		errs = append(errs, fmt.Errorf("stack %q: %w", stackName, err))
	}
	for _, s := range cur.Secrets {
		if !opts.Volumes && s.Spec.Labels[stack.LabelGenerated] != "" {
			// The kept volumes were initialised with this value (a database password):
			// the next apply must find it again.
			a.progressf("secret %s: kept with the volumes (generated)", s.Spec.Name)
			continue
		}
		a.progressf("secret %s: remove", s.Spec.Name)
		if _, err := a.Client.SecretRemove(ctx, s.ID, client.SecretRemoveOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("stack %q: secret %q: remove: %w", stackName, s.Spec.Name, err))
		}
	}
	for _, c := range cur.Configs {
		a.progressf("config %s: remove", c.Spec.Name)
		if _, err := a.Client.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("stack %q: config %q: remove: %w", stackName, c.Spec.Name, err))
		}
	}
	for _, n := range cur.Networks {
		a.progressf("network %s: remove", n.Name)
		if err := retry(wctx, a.poll(), func() error {
			_, err := a.Client.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			return goneIsDone(err)
		}); err != nil {
			errs = append(errs, fmt.Errorf("stack %q: network %q: remove: %w", stackName, n.Name, err))
		}
	}
	if len(cur.Networks) > 0 {
		if err := a.waitNetworksGone(wctx, stackName); err != nil {
			errs = append(errs, fmt.Errorf("stack %q: %w", stackName, err))
		}
	}
	if opts.Volumes {
		if err := a.removeStoppedContainers(ctx, stackName); err != nil {
			errs = append(errs, fmt.Errorf("stack %q: %w", stackName, err))
		}
		for _, v := range cur.Volumes {
			a.progressf("volume %s: remove", v.Name)
			if err := retry(wctx, a.poll(), func() error {
				_, err := a.Client.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{})
				return goneIsDone(err)
			}); err != nil {
				errs = append(errs, fmt.Errorf("stack %q: volume %q: remove: %w", stackName, v.Name, err))
			}
		}
	} else if len(cur.Volumes) > 0 {
		names := make([]string, 0, len(cur.Volumes))
		for _, v := range cur.Volumes {
			names = append(names, v.Name)
		}
		a.progressf("volumes kept: %s", strings.Join(names, ", "))
	}
	return errors.Join(errs...)
}

// waitNoTasks waits until no task of the removed services runs anymore (their containers are
// stopped), so that their networks and volumes can be removed. Tasks are listed by the
// namespace label: once a service is removed the engine rejects its ID as a task filter, yet
// its tasks live on until their containers stop (and those of jobs, complete, for good).
func (a *Applier) waitNoTasks(ctx context.Context, stackName string, services []swarm.Service) error {
	removed := map[string]string{}
	for _, s := range services {
		removed[s.ID] = s.Spec.Name
	}
	for len(removed) > 0 {
		tasks, err := a.Client.TaskList(ctx, client.TaskListOptions{Filters: namespaceFilter(stackName)})
		if err != nil {
			return fmt.Errorf("list tasks: %w", err)
		}
		busy := ""
		for _, t := range tasks.Items {
			if name, ok := removed[t.ServiceID]; ok && !terminal(t.Status.State) {
				busy = name
				break
			}
		}
		if busy == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %q: tasks still running after removal", busy)
		case <-time.After(a.poll()):
		}
	}
	return nil
}

// waitNetworksGone waits until the engine no longer lists a network of the namespace: a
// network removal completes asynchronously, and an Apply right after Remove would otherwise
// see the old network, not create it, and fail to attach services to it.
func (a *Applier) waitNetworksGone(ctx context.Context, stackName string) error {
	for {
		nets, err := a.Client.NetworkList(ctx, client.NetworkListOptions{Filters: namespaceFilter(stackName)})
		if err != nil {
			return fmt.Errorf("list networks: %w", err)
		}
		if len(nets.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("network %q still listed after removal", nets.Items[0].Name)
		case <-time.After(a.poll()):
		}
	}
}

// ContainerClient is what Remove needs to delete the stopped containers of a stack before
// its volumes. *client.Client satisfies it; a Client without it skips that step.
type ContainerClient interface {
	// ContainerList lists containers matching the options.
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	// ContainerRemove removes a container.
	ContainerRemove(ctx context.Context, containerID string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
}

// removeStoppedContainers deletes the exited containers of the namespace: the engine keeps
// those of completed job tasks after their service is removed, and they hold the volumes.
func (a *Applier) removeStoppedContainers(ctx context.Context, stackName string) error {
	cc, ok := a.Client.(ContainerClient)
	if !ok {
		return nil
	}
	list, err := cc.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: namespaceFilter(stackName).Add("status", "exited").Add("status", "created").Add("status", "dead")})
	if err != nil {
		return fmt.Errorf("list stopped containers: %w", err)
	}
	var errs []error
	for _, c := range list.Items {
		if _, err := cc.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("container %.12s: remove: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}

// terminal reports whether a task in this state has stopped for good.
func terminal(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected,
		swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return true
	}
	return false
}

// goneIsDone treats an object that no longer exists as removed (the engine may still list a
// network that a first removal already deleted, while its last endpoints detach).
func goneIsDone(err error) error {
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

func retry(ctx context.Context, every time.Duration, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(every):
		}
	}
}

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
	if next, err := time.Parse(time.RFC3339, st.NextRun); st.LastRun != "" && (err != nil || next.Before(now)) {
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

// LogsClient is what Logs needs of the engine client.
type LogsClient interface {
	// ServiceLogs streams the logs of a service.
	ServiceLogs(ctx context.Context, serviceID string, options client.ServiceLogsOptions) (client.ServiceLogsResult, error)
}

// Logs copies a service's logs (stdout and stderr, multiplexed as the engine sends them
// unless the service has a TTY) to w.
func Logs(ctx context.Context, c LogsClient, stackName, service string, follow bool, tail string, w io.Writer) error {
	name := stackName + "_" + service
	r, err := c.ServiceLogs(ctx, name, client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow, Tail: tail})
	if err != nil {
		return fmt.Errorf("stack %q: service %q: logs: %w", stackName, service, err)
	}
	defer r.Close()
	_, err = demux(w, r)
	return err
}

// demux decodes the engine's multiplexed stream (8-byte headers) into w.
func demux(w io.Writer, r io.Reader) (int64, error) {
	var total int64
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return total, nil
			}
			return total, err
		}
		size := int64(hdr[4])<<24 | int64(hdr[5])<<16 | int64(hdr[6])<<8 | int64(hdr[7])
		n, err := io.CopyN(w, r, size)
		total += n
		if err != nil {
			return total, err
		}
	}
}

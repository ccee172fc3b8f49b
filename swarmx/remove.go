package swarmx

import (
	"context"
	"errors"
	"fmt"
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

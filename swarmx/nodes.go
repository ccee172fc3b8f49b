package swarmx

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// KindNode is the kind of the plan actions on node labels (stack.Stack.Nodes).
const KindNode Kind = "node"

// LabelNodeOwnedPrefix prefixes the node label that records, per stack, the keys of the node
// labels Kargo set: io.kargo.labels.<stack>=<key>,<key>... Kargo changes and removes only
// those; any other label of the node is someone else's.
const LabelNodeOwnedPrefix = "io.kargo.labels."

// NodeClient is the part of the Engine API client that node labels, drains and the node
// column of Status need; *client.Client satisfies it. A Client without it cannot apply a
// stack that declares node labels.
type NodeClient interface {
	// NodeList lists the nodes of the Swarm.
	NodeList(ctx context.Context, options client.NodeListOptions) (client.NodeListResult, error)
	// NodeInspect returns a node by ID or hostname.
	NodeInspect(ctx context.Context, nodeID string, options client.NodeInspectOptions) (client.NodeInspectResult, error)
	// NodeUpdate replaces the spec of a node at a given version.
	NodeUpdate(ctx context.Context, nodeID string, options client.NodeUpdateOptions) (client.NodeUpdateResult, error)
}

var _ NodeClient = (*client.Client)(nil)

// NodeChange is what Apply changes on one node's labels.
type NodeChange struct {
	// NodeID and Hostname name the node.
	NodeID, Hostname string
	// Set are the labels to add or change, Remove the keys to remove (only labels Kargo set).
	Set map[string]string
	// Remove are the keys of labels Kargo set that the stack no longer has.
	Remove []string
	// Owned is the new value of the node's ownership label ("" removes it).
	Owned string
	// Action is the plan line of the change.
	Action Action
}

// PlanNodes compares the node labels a stack declares with the nodes of the Swarm (pure). It
// returns one change per node whose labels must change (or that Kargo must stop owning), and
// an error naming every declared hostname that matches no node or several.
func PlanNodes(stackName string, want []stack.NodeLabels, nodes []swarm.Node) ([]NodeChange, error) {
	owned := LabelNodeOwnedPrefix + stackName
	byHost := map[string][]swarm.Node{}
	for _, n := range nodes {
		byHost[n.Description.Hostname] = append(byHost[n.Description.Hostname], n)
	}
	wanted := map[string]map[string]string{}
	var problems []string
	for _, w := range want {
		switch len(byHost[w.Hostname]) {
		case 0:
			problems = append(problems, fmt.Sprintf("nodes[%s]: no node of the Swarm has this hostname", w.Hostname))
		case 1:
		default:
			problems = append(problems, fmt.Sprintf("nodes[%s]: %d nodes have this hostname; give each node its own", w.Hostname, len(byHost[w.Hostname])))
		}
		wanted[w.Hostname] = w.Labels
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("stack %q: nothing applied:\n  %s", stackName, strings.Join(problems, "\n  "))
	}
	var out []NodeChange
	for _, n := range nodes {
		host := n.Description.Hostname
		w, declared := wanted[host]
		prev := splitKeys(n.Spec.Labels[owned])
		if !declared && len(prev) == 0 {
			continue
		}
		c := NodeChange{NodeID: n.ID, Hostname: host, Set: map[string]string{},
			Owned: strings.Join(slices.Sorted(maps.Keys(w)), ",")}
		var changes []string
		for _, k := range slices.Sorted(maps.Keys(w)) {
			old, has := n.Spec.Labels[k]
			switch {
			case !has:
				changes = append(changes, fmt.Sprintf("+label %s=%s", k, w[k]))
			case old != w[k]:
				changes = append(changes, fmt.Sprintf("~label %s=%s (was %s)", k, w[k], old))
			default:
				continue
			}
			c.Set[k] = w[k]
		}
		for _, k := range prev {
			if _, keep := w[k]; keep {
				continue
			}
			if _, has := n.Spec.Labels[k]; has {
				c.Remove = append(c.Remove, k)
				changes = append(changes, "-label "+k)
			}
		}
		c.Action = Action{Kind: KindNode, Name: host, Op: Unchanged, Changes: changes}
		if len(changes) > 0 || c.Owned != n.Spec.Labels[owned] {
			c.Action.Op = Update
		}
		var taken []string
		for _, k := range slices.Sorted(maps.Keys(w)) {
			if _, has := n.Spec.Labels[k]; has && !slices.Contains(prev, k) {
				taken = append(taken, k)
			}
		}
		if len(taken) > 0 {
			c.Action.Note = "Kargo takes over label(s) set outside it: " + strings.Join(taken, ", ")
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hostname < out[j].Hostname })
	return out, nil
}

func splitKeys(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// nodeChanges lists the Swarm's nodes and plans the stack's node labels. A client without
// node calls is fine for a stack that declares none.
func (a *Applier) nodeChanges(ctx context.Context, d *Desired) ([]NodeChange, error) {
	nc, ok := a.Client.(NodeClient)
	if !ok {
		if len(d.Nodes) > 0 {
			return nil, fmt.Errorf("stack %q: nodes: this engine client cannot list or label nodes", d.Stack)
		}
		return nil, nil
	}
	list, err := nc.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("stack %q: list nodes: %w", d.Stack, err)
	}
	return PlanNodes(d.Stack, d.Nodes, list.Items)
}

// withNodes puts the node actions first in the plan: Apply labels nodes before it creates or
// updates the services whose placement depends on the labels.
func withNodes(p *Plan, changes []NodeChange) *Plan {
	if len(changes) == 0 {
		return p
	}
	acts := make([]Action, 0, len(changes)+len(p.Actions))
	for _, c := range changes {
		acts = append(acts, c.Action)
	}
	p.Actions = append(acts, p.Actions...)
	return p
}

// applyNodes makes the label changes, re-reading each node so a concurrent change of its
// availability or of labels Kargo does not own is kept.
func (a *Applier) applyNodes(ctx context.Context, stackName string, changes []NodeChange, m *mutations) error {
	owned := LabelNodeOwnedPrefix + stackName
	for _, c := range changes {
		if c.Action.Op == Unchanged {
			continue
		}
		nc := a.Client.(NodeClient) // changes only exist when the client is a NodeClient
		ni, err := nc.NodeInspect(ctx, c.NodeID, client.NodeInspectOptions{})
		if err != nil {
			return fmt.Errorf("stack %q: node %s: inspect: %w", stackName, c.Hostname, err)
		}
		spec := ni.Node.Spec
		labels := maps.Clone(spec.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, c.Set)
		for _, k := range c.Remove {
			delete(labels, k)
		}
		if c.Owned == "" {
			delete(labels, owned)
		} else {
			labels[owned] = c.Owned
		}
		spec.Labels = labels
		a.progressf("node %s: labels %s", c.Hostname, strings.Join(c.Action.Changes, ", "))
		m.inc()
		if _, err := nc.NodeUpdate(ctx, c.NodeID, client.NodeUpdateOptions{Version: ni.Node.Version, Spec: spec}); err != nil {
			return fmt.Errorf("stack %q: node %s: update labels: %w", stackName, c.Hostname, err)
		}
	}
	return nil
}

// nodeHostnames maps node IDs to hostnames, or returns nil when the client has no node calls.
func (a *Applier) nodeHostnames(ctx context.Context) map[string]string {
	nc, ok := a.Client.(NodeClient)
	if !ok {
		return nil
	}
	list, err := nc.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, n := range list.Items {
		out[n.ID] = n.Description.Hostname
	}
	return out
}

// taskNodes returns the sorted hostnames (or IDs, when unknown) of the nodes running tasks.
func taskNodes(tasks []swarm.Task, hosts map[string]string) []string {
	var out []string
	for _, t := range tasks {
		if t.Status.State != swarm.TaskStateRunning || t.DesiredState != swarm.TaskStateRunning || t.NodeID == "" {
			continue
		}
		name := hosts[t.NodeID]
		if name == "" {
			name = t.NodeID
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// FindNode returns the node with the given hostname or ID.
func FindNode(ctx context.Context, nc NodeClient, name string) (swarm.Node, error) {
	list, err := nc.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return swarm.Node{}, fmt.Errorf("list nodes: %w", err)
	}
	var found []swarm.Node
	for _, n := range list.Items {
		if n.ID == name || n.Description.Hostname == name {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return swarm.Node{}, fmt.Errorf("node %q: no node has this hostname or ID", name)
	case 1:
		return found[0], nil
	default:
		return swarm.Node{}, fmt.Errorf("node %q: %d nodes have this hostname: give the node ID", name, len(found))
	}
}

// SetAvailability sets a node's availability (active, pause or drain) and returns the node as
// it was before.
func SetAvailability(ctx context.Context, nc NodeClient, name string, av swarm.NodeAvailability) (swarm.Node, error) {
	n, err := FindNode(ctx, nc, name)
	if err != nil {
		return n, err
	}
	if n.Spec.Availability == av {
		return n, nil
	}
	spec := n.Spec
	spec.Availability = av
	if _, err := nc.NodeUpdate(ctx, n.ID, client.NodeUpdateOptions{Version: n.Version, Spec: spec}); err != nil {
		return n, fmt.Errorf("node %s: set availability %s: %w", n.Description.Hostname, av, err)
	}
	return n, nil
}

// DrainReport is what Drain observed.
type DrainReport struct {
	// Node is the hostname of the drained node.
	Node string `json:"node"`
	// Moved counts the stack's tasks that ran on the node when it was drained.
	Moved int `json:"moved"`
	// Elapsed is the time from the drain until no task of the stack ran on the node and every
	// service of the stack was converged again.
	Elapsed time.Duration `json:"elapsed"`
	// Services is the status of the stack's services once converged.
	Services []ServiceStatus `json:"services"`
}

// Drain drains a node (availability drain: Swarm stops its tasks and starts them on other
// nodes) and waits, up to timeout, until no task of the stack runs there and every long-running
// service of the stack has all its tasks running again.
func (a *Applier) Drain(ctx context.Context, stackName, node string, timeout time.Duration) (*DrainReport, error) {
	nc, ok := a.Client.(NodeClient)
	if !ok {
		return nil, errors.New("this engine client cannot manage nodes")
	}
	n, err := FindNode(ctx, nc, node)
	if err != nil {
		return nil, err
	}
	rep := &DrainReport{Node: n.Description.Hostname}
	if rep.Moved, err = a.stackTasksOn(ctx, stackName, n.ID); err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := SetAvailability(ctx, nc, n.ID, swarm.NodeAvailabilityDrain); err != nil {
		return nil, err
	}
	a.progressf("node %s: drain (%d task(s) of stack %s on it)", rep.Node, rep.Moved, stackName)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		on, err := a.stackTasksOn(ctx, stackName, n.ID)
		var sts []ServiceStatus
		if err == nil {
			sts, err = a.Status(ctx, stackName)
		}
		if err == nil && on == 0 && allRunning(sts) {
			rep.Elapsed = time.Since(start)
			rep.Services = sts
			a.progressf("node %s: drained, stack %s converged in %s", rep.Node, stackName, rep.Elapsed.Round(100*time.Millisecond))
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return rep, fmt.Errorf("node %s: drained, but stack %q did not converge within %s (tasks still on the node: %d)", rep.Node, stackName, timeout, on)
		case <-time.After(a.poll()):
		}
	}
}

// stackTasksOn counts the tasks of the stack's services that Swarm wants running on a node.
func (a *Applier) stackTasksOn(ctx context.Context, stackName, nodeID string) (int, error) {
	svcs, err := a.Client.ServiceList(ctx, client.ServiceListOptions{Filters: namespaceFilter(stackName)})
	if err != nil {
		return 0, fmt.Errorf("stack %q: list services: %w", stackName, err)
	}
	n := 0
	for _, s := range svcs.Items {
		tasks, err := a.Client.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", s.ID).Add("node", nodeID)})
		if err != nil {
			return 0, fmt.Errorf("stack %q: service %q: list tasks: %w", stackName, s.Spec.Name, err)
		}
		for _, t := range tasks.Items {
			if t.DesiredState == swarm.TaskStateRunning || t.Status.State == swarm.TaskStateRunning {
				n++
			}
		}
	}
	return n, nil
}

// allRunning reports whether every long-running service has all its desired tasks running.
func allRunning(sts []ServiceStatus) bool {
	for _, s := range sts {
		if stack.Mode(s.Mode).IsJob() {
			continue
		}
		if s.Running < s.Desired {
			return false
		}
	}
	return true
}

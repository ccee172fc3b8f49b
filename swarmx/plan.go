package swarmx

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
)

// Op is what a plan does to one object.
type Op string

// Plan operations.
const (
	Create    Op = "create"
	Update    Op = "update"
	Delete    Op = "delete"
	Unchanged Op = "unchanged"
	// Converge is a service whose spec is unchanged but which does not run as it says (tasks
	// missing or unhealthy, update paused or in progress): Apply waits for it, or forces a new
	// rollout when Swarm is not bringing it back by itself.
	Converge Op = "converge"
)

// Kind of Swarm object.
type Kind string

// Object kinds, in the order Apply handles them.
const (
	KindNetwork Kind = "network"
	KindVolume  Kind = "volume"
	KindSecret  Kind = "secret"
	KindConfig  Kind = "config"
	KindService Kind = "service"
)

// Action is one step of a plan. It never holds secret values.
type Action struct {
	// Kind of the object.
	Kind Kind `json:"kind"`
	// Name is the object's Swarm name, e.g. <stack>_<name>.
	Name string `json:"name"`
	// Op is what the plan does to the object.
	Op Op `json:"op"`
	// Changes lists the changed fields of an update, e.g. "TaskTemplate.ContainerSpec.Env".
	Changes []string `json:"changes,omitempty"`
	// Note explains a choice (e.g. "pruned only with --prune", "created by the engine on first use").
	Note string `json:"note,omitempty"`
}

// String returns the action as one line: a symbol (+ create, ~ update, - delete, = unchanged,
// ! not converged), the kind and the name, then the changes and the note if any.
func (a Action) String() string {
	sym := map[Op]string{Create: "+", Update: "~", Delete: "-", Unchanged: "=", Converge: "!"}[a.Op]
	s := fmt.Sprintf("%s %s %s", sym, a.Kind, a.Name)
	if len(a.Changes) > 0 {
		s += " (" + strings.Join(a.Changes, ", ") + ")"
	}
	if a.Note != "" {
		s += " [" + a.Note + "]"
	}
	return s
}

// Plan is the difference between a stack and what runs under its namespace.
type Plan struct {
	// Stack is the name of the stack.
	Stack string `json:"stack"`
	// Actions on the stack's objects by kind (networks, volumes, secrets, configs, services),
	// then the deletions of objects of the namespace the stack no longer has.
	Actions []Action `json:"actions"`
}

// Changes returns the actions that are not Unchanged.
func (p *Plan) Changes() []Action {
	var out []Action
	for _, a := range p.Actions {
		if a.Op != Unchanged {
			out = append(out, a)
		}
	}
	return out
}

// Find returns the action on the named object of a kind.
func (p *Plan) Find(kind Kind, name string) (Action, bool) {
	for _, a := range p.Actions {
		if a.Kind == kind && a.Name == name {
			return a, true
		}
	}
	return Action{}, false
}

// String returns one line per action followed by a summary of how many objects are created,
// updated, deleted and unchanged, and how many services are not converged.
func (p *Plan) String() string {
	var b strings.Builder
	var n [5]int
	for _, a := range p.Actions {
		b.WriteString(a.String())
		b.WriteByte('\n')
		switch a.Op {
		case Create:
			n[0]++
		case Update:
			n[1]++
		case Delete:
			n[2]++
		case Converge:
			n[4]++
		default:
			n[3]++
		}
	}
	fmt.Fprintf(&b, "stack %s: %d to create, %d to update, %d to delete, %d unchanged", p.Stack, n[0], n[1], n[2], n[3])
	if n[4] > 0 {
		fmt.Fprintf(&b, ", %d not converged", n[4])
	}
	b.WriteByte('\n')
	return b.String()
}

// Current is what runs under a stack's namespace.
type Current struct {
	// Services of the namespace.
	Services []swarm.Service
	// Networks of the namespace.
	Networks []network.Summary
	// Secrets of the namespace.
	Secrets []swarm.Secret
	// Configs of the namespace.
	Configs []swarm.Config
	// Volumes of the namespace.
	Volumes []volume.Volume
	// Tasks of each service, by service ID, when observed (ObserveTasks): Diff then judges
	// services whose spec is unchanged by what runs.
	Tasks map[string][]swarm.Task
}

// ObserveTasks lists the tasks of every service of cur into cur.Tasks.
func ObserveTasks(ctx context.Context, c Client, stackName string, cur *Current) error {
	cur.Tasks = map[string][]swarm.Task{}
	for _, s := range cur.Services {
		tasks, err := c.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", s.ID)})
		if err != nil {
			return fmt.Errorf("stack %q: service %q: list tasks: %w", stackName, s.Spec.Name, err)
		}
		cur.Tasks[s.ID] = tasks.Items
	}
	return nil
}

// NotConverged says why a live service does not run as its spec wants, or "" when it does:
// its update (or rollback) paused or still in progress, or fewer tasks of its spec running
// (and healthy: Swarm counts a task with a health check as running once healthy) than
// desired. Jobs are not judged: a run ends, fails and starts again by design.
func NotConverged(svc swarm.Service, tasks []swarm.Task) string {
	if svc.Spec.Mode.ReplicatedJob != nil || svc.Spec.Mode.GlobalJob != nil {
		return ""
	}
	t := summarize(svc, tasks)
	if us := svc.UpdateStatus; us != nil {
		switch us.State {
		case swarm.UpdateStatePaused:
			return "update paused: " + us.Message
		case swarm.UpdateStateRollbackPaused:
			return "rollback paused: " + us.Message
		case swarm.UpdateStateUpdating, swarm.UpdateStateRollbackStarted:
			return fmt.Sprintf("%s in progress, %s", strings.ReplaceAll(string(us.State), "_", " "), t)
		}
	}
	if !t.Converged {
		return t.String()
	}
	return ""
}

// stuck reports whether Swarm is not bringing a not-converged service back by itself: its
// update is paused, or no task is on its way (none wanted but not yet running) while
// tasks are missing or stale.
func stuck(svc swarm.Service, tasks []swarm.Task) bool {
	if us := svc.UpdateStatus; us != nil {
		switch us.State {
		case swarm.UpdateStatePaused, swarm.UpdateStateRollbackPaused:
			return true
		case swarm.UpdateStateUpdating, swarm.UpdateStateRollbackStarted:
			return false
		}
	}
	for _, t := range tasks {
		// A replacement waiting out its restart delay is wanted "ready", then "running".
		if !terminal(t.DesiredState) && t.Status.State != swarm.TaskStateRunning && !terminal(t.Status.State) {
			return false
		}
	}
	return !summarize(svc, tasks).Converged
}

func namespaceFilter(stackName string) client.Filters {
	return client.Filters{}.Add("label", stack.LabelNamespace+"="+stackName)
}

// Observe lists the objects labelled with the stack's namespace.
func Observe(ctx context.Context, c Client, stackName string) (*Current, error) {
	f := namespaceFilter(stackName)
	cur := &Current{}
	svcs, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("stack %q: list services: %w", stackName, err)
	}
	cur.Services = svcs.Items
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("stack %q: list networks: %w", stackName, err)
	}
	cur.Networks = nets.Items
	secs, err := c.SecretList(ctx, client.SecretListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("stack %q: list secrets: %w", stackName, err)
	}
	cur.Secrets = secs.Items
	cfgs, err := c.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("stack %q: list configs: %w", stackName, err)
	}
	cur.Configs = cfgs.Items
	vols, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("stack %q: list volumes: %w", stackName, err)
	}
	cur.Volumes = vols.Items
	sort.Slice(cur.Services, func(i, j int) bool { return cur.Services[i].Spec.Name < cur.Services[j].Spec.Name })
	return cur, nil
}

func (cur *Current) service(name string) *swarm.Service {
	for i := range cur.Services {
		if cur.Services[i].Spec.Name == name {
			return &cur.Services[i]
		}
	}
	return nil
}

func (cur *Current) network(name string) *network.Summary {
	for i := range cur.Networks {
		if cur.Networks[i].Name == name {
			return &cur.Networks[i]
		}
	}
	return nil
}

func (cur *Current) secret(name string) *swarm.Secret {
	for i := range cur.Secrets {
		if cur.Secrets[i].Spec.Name == name {
			return &cur.Secrets[i]
		}
	}
	return nil
}

func (cur *Current) config(name string) *swarm.Config {
	for i := range cur.Configs {
		if cur.Configs[i].Spec.Name == name {
			return &cur.Configs[i]
		}
	}
	return nil
}

func (cur *Current) volume(name string) *volume.Volume {
	for i := range cur.Volumes {
		if cur.Volumes[i].Name == name {
			return &cur.Volumes[i]
		}
	}
	return nil
}

// Diff computes the plan from desired to current. Objects of the namespace that the stack no
// longer has are planned for deletion; Apply deletes services and networks only when asked
// to prune, and old versions of secrets and configs always (no service uses them anymore).
func Diff(d *Desired, cur *Current) *Plan {
	p := &Plan{Stack: d.Stack}
	want := map[Kind]map[string]bool{KindNetwork: {}, KindVolume: {}, KindSecret: {}, KindConfig: {}, KindService: {}}
	for _, n := range d.Networks {
		want[KindNetwork][n.Name] = true
		if n.External {
			continue
		}
		a := Action{Kind: KindNetwork, Name: n.Name, Op: Create}
		if have := cur.network(n.Name); have != nil {
			a.Op = Unchanged
			if have.Labels[stack.LabelHash] != n.Hash {
				// Swarm networks cannot be updated in place; the difference is reported, not applied.
				a.Note = "options differ from the running network; remove the stack to recreate it"
			}
		}
		p.Actions = append(p.Actions, a)
	}
	for _, v := range d.Volumes {
		want[KindVolume][v.Name] = true
		if v.External {
			continue
		}
		a := Action{Kind: KindVolume, Name: v.Name, Op: Create, Note: "created by the engine of the node that first mounts it"}
		if cur.volume(v.Name) != nil {
			a = Action{Kind: KindVolume, Name: v.Name, Op: Unchanged}
		}
		p.Actions = append(p.Actions, a)
	}
	for _, s := range d.Secrets {
		want[KindSecret][s.Name] = true
		if s.External {
			continue
		}
		a := Action{Kind: KindSecret, Name: s.Name, Op: Create}
		if s.Generate > 0 {
			a.Note = "generated"
		}
		if cur.secret(s.Name) != nil {
			a = Action{Kind: KindSecret, Name: s.Name, Op: Unchanged}
		}
		p.Actions = append(p.Actions, a)
	}
	for _, c := range d.Configs {
		want[KindConfig][c.Name] = true
		if c.External {
			continue
		}
		a := Action{Kind: KindConfig, Name: c.Name, Op: Create}
		if cur.config(c.Name) != nil {
			a.Op = Unchanged
		}
		p.Actions = append(p.Actions, a)
	}
	for _, s := range d.Services {
		want[KindService][s.Name] = true
		a := Action{Kind: KindService, Name: s.Name, Op: Create}
		if have := cur.service(s.Name); have != nil {
			a.Op = Unchanged
			if have.Spec.Labels[stack.LabelHash] != s.Hash {
				a.Op = Update
				a.Changes = changedFields(have.Spec, s.Spec)
			} else if d := Drift(have.Spec); len(d) > 0 {
				a.Op = Update
				a.Changes = d
				a.Note = "changed outside kargo"
			} else if tasks, ok := cur.Tasks[have.ID]; ok {
				if why := NotConverged(*have, tasks); why != "" {
					a.Op = Converge
					a.Note = "not converged: " + why
				}
			}
		}
		p.Actions = append(p.Actions, a)
	}
	for _, s := range cur.Services {
		if !want[KindService][s.Spec.Name] {
			p.Actions = append(p.Actions, Action{Kind: KindService, Name: s.Spec.Name, Op: Delete, Note: "no longer in the stack; removed with prune"})
		}
	}
	for _, s := range cur.Secrets {
		if !want[KindSecret][s.Spec.Name] {
			p.Actions = append(p.Actions, Action{Kind: KindSecret, Name: s.Spec.Name, Op: Delete, Note: "unused version"})
		}
	}
	for _, c := range cur.Configs {
		if !want[KindConfig][c.Spec.Name] {
			p.Actions = append(p.Actions, Action{Kind: KindConfig, Name: c.Spec.Name, Op: Delete, Note: "unused version"})
		}
	}
	for _, n := range cur.Networks {
		if !want[KindNetwork][n.Name] {
			p.Actions = append(p.Actions, Action{Kind: KindNetwork, Name: n.Name, Op: Delete, Note: "no longer in the stack; removed with prune"})
		}
	}
	return p
}

// changedFields compares the spec Kargo last applied (from its label) with the desired one
// and lists the fields that differ. Specs applied by other tools get a coarse answer.
func changedFields(have, want swarm.ServiceSpec) []string {
	last, err := DecodeLastApplied(have.Labels[stack.LabelLastApplied])
	if err != nil {
		return []string{"spec (not applied by kargo)"}
	}
	var a, b any
	_ = json.Unmarshal(canonicalSpec(last), &a)
	_ = json.Unmarshal(canonicalSpec(want), &b)
	var out []string
	diffJSON("", a, b, &out)
	if len(out) == 0 {
		out = []string{"labels"}
	}
	return out
}

// diffJSON walks two decoded JSON values and records the paths where they differ, descending
// into objects (lists are compared whole, except Env which is reported by variable name).
func diffJSON(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffJSON(p, am[k], bm[k], out)
		}
		return
	}
	if reflect.DeepEqual(a, b) {
		return
	}
	if strings.HasSuffix(path, "ContainerSpec.Env") {
		for _, k := range envDiff(a, b) {
			*out = append(*out, path+"."+k)
		}
		return
	}
	*out = append(*out, path)
}

func envDiff(a, b any) []string {
	toMap := func(v any) map[string]string {
		m := map[string]string{}
		list, _ := v.([]any)
		for _, x := range list {
			s, _ := x.(string)
			k, val, _ := strings.Cut(s, "=")
			m[k] = val
		}
		return m
	}
	am, bm := toMap(a), toMap(b)
	var keys []string
	for k, v := range am {
		if bv, ok := bm[k]; !ok || bv != v {
			keys = append(keys, k)
		}
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Drift lists the fields of a live service spec that were changed outside Kargo since it
// applied it (docker service scale or update): replicas, image and environment, compared
// with the spec recorded in its stack.LabelLastApplied. Apply puts them back.
func Drift(live swarm.ServiceSpec) []string {
	last, err := DecodeLastApplied(live.Labels[stack.LabelLastApplied])
	if err != nil {
		return nil
	}
	var out []string
	if r, l := live.Mode.Replicated, last.Mode.Replicated; r != nil && l != nil && r.Replicas != nil && l.Replicas != nil && *r.Replicas != *l.Replicas {
		out = append(out, "Mode.Replicated.Replicas")
	}
	lc, cc := last.TaskTemplate.ContainerSpec, live.TaskTemplate.ContainerSpec
	if lc == nil || cc == nil {
		return out
	}
	if img, _, _ := strings.Cut(cc.Image, "@"); img != lc.Image && cc.Image != lc.Image {
		out = append(out, "TaskTemplate.ContainerSpec.Image")
	}
	var a, b []any
	for _, e := range lc.Env {
		a = append(a, e)
	}
	for _, e := range cc.Env {
		b = append(b, e)
	}
	for _, k := range envDiff(a, b) {
		out = append(out, "TaskTemplate.ContainerSpec.Env."+k)
	}
	return out
}

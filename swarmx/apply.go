package swarmx

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kalisio/kargo/internal/deepcopy"
	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// ImageEnsurer makes sure the images a stack uses exist on the engine (for example by
// building Kargo's embedded images that are missing). It is called before any Swarm object
// is created or changed.
type ImageEnsurer interface {
	// EnsureImages makes sure every image exists on the engine, writing progress to progress.
	EnsureImages(ctx context.Context, images []string, progress io.Writer) error
}

// Applier applies stacks to a Swarm through a Client.
type Applier struct {
	// Client talks to the Docker Engine.
	Client Client
	// Source resolves secrets and configs given by file or env var (zero value: the process's).
	Source Source
	// Progress receives one line per step and convergence change (nil: discarded).
	Progress io.Writer
	// Images, when set, is asked to provide the stack's images before anything is applied.
	Images ImageEnsurer
	// Poll is the interval between convergence checks (default 1s).
	Poll time.Duration
	// Ready, when set, is asked after a service with Endpoints converged, every Poll until
	// it returns nil or the service's wait times out (package ogc provides one that checks
	// GetCapabilities through published ports).
	Ready func(ctx context.Context, s Service) error

	// progressMu serialises progress lines: services of a level are applied in parallel.
	progressMu sync.Mutex
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Prune removes services and networks of the namespace that the stack no longer has.
	Prune bool
	// NoWait returns as soon as the changes are submitted, without waiting for convergence.
	NoWait bool
	// Timeout bounds the wait for each service to converge (default 5 minutes).
	Timeout time.Duration
}

// Result tells what Apply did.
type Result struct {
	// Plan is the plan Apply carried out.
	Plan *Plan `json:"plan"`
	// Mutations counts the mutating Engine API calls made.
	Mutations int `json:"mutations"`
}

// ServiceError is the failure of one service during Apply.
type ServiceError struct {
	// Stack is the name of the stack.
	Stack string
	// Service is the name of the failed service within the stack (without the stack prefix).
	Service string
	// RolledBack is true when Swarm rolled the service back to its previous spec.
	RolledBack bool
	// TaskError is the error of the last failed task, if any.
	TaskError string
	// Changes are the fields of the update that failed (and were rolled back).
	Changes []string
	// Err is what went wrong.
	Err error
}

// Error names the stack, the service, what went wrong and what was rolled back.
func (e *ServiceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %q: service %q: %v", e.Stack, e.Service, e.Err)
	if e.TaskError != "" {
		fmt.Fprintf(&b, "; task error: %s", e.TaskError)
	}
	if e.RolledBack {
		b.WriteString("; rolled back to the previous spec")
		if len(e.Changes) > 0 {
			fmt.Fprintf(&b, " (undoing %s)", strings.Join(e.Changes, ", "))
		}
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ServiceError) Unwrap() error { return e.Err }

func (a *Applier) progressf(format string, args ...any) {
	if a.Progress != nil {
		line := fmt.Sprintf("kargo: "+format+"\n", args...)
		a.progressMu.Lock()
		defer a.progressMu.Unlock()
		io.WriteString(a.Progress, line)
	}
}

func (a *Applier) poll() time.Duration {
	if a.Poll > 0 {
		return a.Poll
	}
	return time.Second
}

// Plan renders the stack and compares it with what runs under its namespace. It makes no
// mutating call.
func (a *Applier) Plan(ctx context.Context, st *stack.Stack) (*Plan, error) {
	d, err := Render(st, a.Source)
	if err != nil {
		return nil, err
	}
	return a.PlanDesired(ctx, d)
}

// PlanDesired is Plan of a stack already rendered (by Render, which validated it): a program
// that renders first, to refuse a bad stack before it connects to the engine, normalises the
// stack once.
func (a *Applier) PlanDesired(ctx context.Context, d *Desired) (*Plan, error) {
	cur, err := Observe(ctx, a.Client, d.Stack)
	if err != nil {
		return nil, err
	}
	if err := ObserveTasks(ctx, a.Client, d.Stack, cur); err != nil {
		return nil, err
	}
	d.bindSecrets(cur.Secrets, false)
	nodes, err := a.nodeChanges(ctx, d)
	if err != nil {
		return nil, err
	}
	return withNodes(Diff(d, cur), nodes), nil
}

// Apply makes the Swarm run the stack. It renders and validates everything and checks that
// external objects exist before the first mutating call, so an invalid stack changes nothing.
// Networks, secrets and configs are created first; then services in depends-on order, each
// as soon as its dependencies allow (see applyServices: on a first apply, once they were
// created; otherwise once they converged), and waited for until it converges
// unless opts.NoWait. A failed dependency fails the apply with its own name and cause.
// Only what changed is touched: re-applying an unchanged stack makes no mutating call. A
// service whose spec is unchanged is still judged by what runs: one not converged (tasks
// missing or unhealthy, update paused or in progress) is waited for, and given a new rollout
// when Swarm is not bringing it back by itself; one that does not converge in time fails the
// apply like a changed one.
func (a *Applier) Apply(ctx context.Context, st *stack.Stack, opts ApplyOptions) (*Result, error) {
	d, err := Render(st, a.Source)
	if err != nil {
		return nil, err
	}
	return a.ApplyDesired(ctx, d, opts)
}

// ApplyDesired is Apply of a stack already rendered (by Render, which validated it).
func (a *Applier) ApplyDesired(ctx context.Context, d *Desired, opts ApplyOptions) (*Result, error) {
	cur, err := Observe(ctx, a.Client, d.Stack)
	if err != nil {
		return nil, err
	}
	if !opts.NoWait {
		if err := ObserveTasks(ctx, a.Client, d.Stack, cur); err != nil {
			return nil, err
		}
	}
	d.bindSecrets(cur.Secrets, true)
	nodes, err := a.nodeChanges(ctx, d)
	if err != nil {
		return nil, err
	}
	plan := withNodes(Diff(d, cur), nodes)
	res := &Result{Plan: plan}
	ext, err := a.preflight(ctx, d)
	if err != nil {
		return res, err
	}
	if a.Images != nil {
		if err := a.Images.EnsureImages(ctx, serviceImages(d), a.Progress); err != nil {
			return res, fmt.Errorf("stack %q: images: %w", d.Stack, err)
		}
	}
	m := &mutations{}
	defer func() { res.Mutations = m.count() }()
	if err := a.applyNodes(ctx, d.Stack, nodes, m); err != nil {
		return res, err
	}

	for _, n := range d.Networks {
		if n.External || cur.network(n.Name) != nil {
			continue
		}
		a.progressf("network %s: create", n.Name)
		m.inc()
		if _, err := a.Client.NetworkCreate(ctx, n.Name, n.Options); err != nil {
			return res, fmt.Errorf("stack %q: network %q: create: %w", d.Stack, n.Name, err)
		}
	}
	secretIDs := ext.secrets
	for _, s := range cur.Secrets {
		secretIDs[s.Spec.Name] = s.ID
	}
	for _, s := range d.Secrets {
		if s.External || secretIDs[s.Name] != "" {
			continue
		}
		spec := s.Spec
		if s.Generate > 0 {
			spec.Data = []byte(randomString(s.Generate))
			a.progressf("secret %s: create (generated)", s.Name)
		} else {
			a.progressf("secret %s: create", s.Name)
		}
		m.inc()
		r, err := a.Client.SecretCreate(ctx, client.SecretCreateOptions{Spec: spec})
		if err != nil {
			return res, fmt.Errorf("stack %q: secret %q: create: %w", d.Stack, s.Logical, err)
		}
		secretIDs[s.Name] = r.ID
	}
	configIDs := ext.configs
	for _, c := range cur.Configs {
		configIDs[c.Spec.Name] = c.ID
	}
	for _, c := range d.Configs {
		if c.External || configIDs[c.Name] != "" {
			continue
		}
		a.progressf("config %s: create", c.Name)
		m.inc()
		r, err := a.Client.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: c.Spec})
		if err != nil {
			return res, fmt.Errorf("stack %q: config %q: create: %w", d.Stack, c.Logical, err)
		}
		configIDs[c.Name] = r.ID
	}

	if err := a.applyServices(ctx, d, cur, secretIDs, configIDs, opts, m); err != nil {
		return res, err
	}
	if err := a.cleanup(ctx, d, cur, opts.Prune, m); err != nil {
		return res, err
	}
	return res, nil
}

// preflight checks what must exist before anything is changed: external networks, secrets
// and configs.
// external holds the IDs of the external secrets and configs a stack uses (they carry no
// namespace label, so Observe does not see them).
type external struct{ secrets, configs map[string]string }

func (a *Applier) preflight(ctx context.Context, d *Desired) (external, error) {
	ext := external{secrets: map[string]string{}, configs: map[string]string{}}
	type ref struct{ logical, name string }
	var nets, secs, cfgs []ref
	for _, n := range d.Networks {
		if n.External {
			nets = append(nets, ref{n.Logical, n.Name})
		}
	}
	for _, s := range d.Secrets {
		if s.External {
			secs = append(secs, ref{s.Logical, s.Name})
		}
	}
	for _, c := range d.Configs {
		if c.External {
			cfgs = append(cfgs, ref{c.Logical, c.Name})
		}
	}
	var missing []string
	// check records the ID of each wanted object the engine has (name → ID in have), and
	// every one it lacks.
	check := func(kind string, wanted []ref, have, ids map[string]string) {
		for _, r := range wanted {
			if id, ok := have[r.name]; ok {
				ids[r.name] = id
			} else {
				missing = append(missing, fmt.Sprintf("%ss[%s]: external %s %q does not exist", kind, r.logical, kind, r.name))
			}
		}
	}
	if len(nets) > 0 {
		list, err := a.Client.NetworkList(ctx, client.NetworkListOptions{})
		if err != nil {
			return ext, fmt.Errorf("stack %q: list networks: %w", d.Stack, err)
		}
		have := map[string]string{}
		for _, n := range list.Items {
			have[n.Name] = n.ID
		}
		check("network", nets, have, map[string]string{})
	}
	if len(secs) > 0 {
		list, err := a.Client.SecretList(ctx, client.SecretListOptions{})
		if err != nil {
			return ext, fmt.Errorf("stack %q: list secrets: %w", d.Stack, err)
		}
		have := map[string]string{}
		for _, s := range list.Items {
			have[s.Spec.Name] = s.ID
		}
		check("secret", secs, have, ext.secrets)
	}
	if len(cfgs) > 0 {
		list, err := a.Client.ConfigList(ctx, client.ConfigListOptions{})
		if err != nil {
			return ext, fmt.Errorf("stack %q: list configs: %w", d.Stack, err)
		}
		have := map[string]string{}
		for _, c := range list.Items {
			have[c.Spec.Name] = c.ID
		}
		check("config", cfgs, have, ext.configs)
	}
	if len(missing) > 0 {
		return ext, fmt.Errorf("stack %q: nothing applied:\n  %s", d.Stack, strings.Join(missing, "\n  "))
	}
	return ext, nil
}

func serviceImages(d *Desired) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range d.Services {
		img := s.Spec.TaskTemplate.ContainerSpec.Image
		if !seen[img] {
			seen[img] = true
			out = append(out, img)
		}
	}
	sort.Strings(out)
	return out
}

// Levels orders services by depends-on: each level only depends on earlier ones.
func Levels(services []Service) [][]Service {
	done := map[string]bool{}
	byName := map[string]bool{}
	for _, s := range services {
		byName[s.Logical] = true
	}
	var levels [][]Service
	remaining := services
	for len(remaining) > 0 {
		var level, rest []Service
		for _, s := range remaining {
			ready := true
			for _, dep := range s.DependsOn {
				if byName[dep] && !done[dep] {
					ready = false
				}
			}
			if ready {
				level = append(level, s)
			} else {
				rest = append(rest, s)
			}
		}
		if len(level) == 0 { // a cycle: Validate rejects it, but never loop forever
			level, rest = rest, nil
		}
		for _, s := range level {
			done[s.Logical] = true
		}
		levels = append(levels, level)
		remaining = rest
	}
	return levels
}

// gate tells the services that depend on one how far it got during Apply.
type gate struct {
	// created closes once a dependent created by the same apply may be created too: the
	// service was created (its tasks may not run yet). It also closes when done does.
	created chan struct{}
	// done closes once the service converged and its endpoints answered, or failed (err).
	done       chan struct{}
	err        error
	createOnce sync.Once
}

func newGate() *gate { return &gate{created: make(chan struct{}), done: make(chan struct{})} }

// create records that the service was created.
func (g *gate) create() { g.createOnce.Do(func() { close(g.created) }) }

// finish records the outcome; it is called once.
func (g *gate) finish(err error) {
	g.err = err
	g.create()
	close(g.done)
}

// dependency is a service of the stack that another one depends on.
type dependency struct {
	name string
	g    *gate
}

// dependencyError ends a service that was not applied, or no longer waited for, because a
// service it depends on failed: Apply reports that failure, not this consequence.
type dependencyError struct{ dep string }

func (e *dependencyError) Error() string { return fmt.Sprintf("depends on %q, which failed", e.dep) }

// applyServices applies every service as soon as what it depends on allows. A service
// created by this apply whose dependencies are also created by it (neither being a job) is
// created right after them, and waited for together with them: Swarm gives a task a DNS
// name only once its health check passed, so a dependent started early cannot reach its
// dependency before it is up anyway, and its own first check (one interval after its start)
// comes as soon as it would with every service created at once, instead of one whole chain
// of health intervals after another. Its tasks that fail before its
// dependencies converged do not count against it (it may restart until they answer); its
// timeout runs from then. Any other service (an update, a job, or one depending on a
// service that already ran) is applied once its dependencies converged and answered, as
// with levels. When a dependency fails, its dependents are not applied, and those this
// apply created are removed again: only the dependency's failure is reported.
func (a *Applier) applyServices(ctx context.Context, d *Desired, cur *Current, secretIDs, configIDs map[string]string, opts ApplyOptions, m *mutations) error {
	gates := map[string]*gate{}
	level := map[string]int{}
	for i, l := range Levels(d.Services) {
		for _, s := range l {
			gates[s.Logical] = newGate()
			level[s.Logical] = i
		}
	}
	errs := make([]error, len(d.Services))
	var wg sync.WaitGroup
	for i, s := range d.Services {
		var deps []dependency
		for _, name := range s.DependsOn {
			// Only earlier levels: a cycle (Validate rejects it) must not wait forever.
			if g, ok := gates[name]; ok && level[name] < level[s.Logical] {
				deps = append(deps, dependency{name, g})
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := gates[s.Logical]
			err := a.applyService(ctx, d.Stack, s, deps, g, cur, secretIDs, configIDs, opts, m)
			g.finish(err)
			errs[i] = err
		}()
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		var de *dependencyError
		if err != nil && !errors.As(err, &de) {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

// restartsUntilUp reports whether Swarm restarts the service's failed tasks without limit:
// started before its dependencies answer, it may fail until they do and must not be given up.
func restartsUntilUp(spec swarm.ServiceSpec) bool {
	rp := spec.TaskTemplate.RestartPolicy
	return rp == nil || (rp.Condition != swarm.RestartPolicyConditionNone && (rp.MaxAttempts == nil || *rp.MaxAttempts == 0))
}

// awaitDependencies waits until each dependency lets s be applied: created when early, done
// otherwise. It returns a *dependencyError when one failed.
func awaitDependencies(ctx context.Context, deps []dependency, early bool) error {
	for _, dep := range deps {
		ch := dep.g.done
		if early {
			ch = dep.g.created
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-dep.g.done:
			if dep.g.err != nil {
				return &dependencyError{dep: dep.name}
			}
		default:
		}
	}
	return nil
}

// dependenciesUp reports whether every dependency converged and answered already.
func dependenciesUp(deps []dependency) bool {
	for _, dep := range deps {
		select {
		case <-dep.g.done:
			if dep.g.err != nil {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// dependenciesDone sends nil once every dependency converged and answered, or a
// *dependencyError as soon as one failed.
func dependenciesDone(deps []dependency) <-chan error {
	out := make(chan error, 1)
	results := make(chan error, len(deps))
	for _, dep := range deps {
		go func() {
			<-dep.g.done // every service's gate finishes before Apply returns
			if dep.g.err != nil {
				results <- &dependencyError{dep: dep.name}
			} else {
				results <- nil
			}
		}()
	}
	go func() {
		for range deps {
			if err := <-results; err != nil {
				out <- err
				return
			}
		}
		out <- nil
	}()
	return out
}

// applyService applies s once its dependencies allow it, and waits for it unless
// opts.NoWait. g tells its own dependents how far it got.
func (a *Applier) applyService(ctx context.Context, stackName string, s Service, deps []dependency, g *gate, cur *Current, secretIDs, configIDs map[string]string, opts ApplyOptions, m *mutations) error {
	fail := func(err error) error { return &ServiceError{Stack: stackName, Service: s.Logical, Err: err} }
	have := cur.service(s.Name)
	// early: created now, not a job, and restarted by Swarm for as long as it takes; its
	// dependencies need only have been created, unless they are themselves not early (their
	// created gate then waits for done).
	early := have == nil && !s.IsJob() && !opts.NoWait && restartsUntilUp(s.Spec)
	if err := awaitDependencies(ctx, deps, early); err != nil {
		var de *dependencyError
		if errors.As(err, &de) {
			a.progressf("service %s: not applied: %v", s.Name, err)
			return err
		}
		return fail(fmt.Errorf("interrupted while waiting for its dependencies: %w", err))
	}
	spec, err := resolveRefs(s.Spec, secretIDs, configIDs)
	if err != nil {
		return fail(err)
	}
	var id string
	var since time.Time
	var changes []string
	// unchanged: the spec is the applied one; the service is only waited for (or given a new
	// rollout), never rolled back.
	unchanged, converged := false, false
	switch {
	case have == nil:
		a.progressf("service %s: create", s.Name)
		m.inc()
		r, err := a.Client.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
		if err != nil {
			return fail(fmt.Errorf("create: %w", err))
		}
		id = r.ID
		if early {
			g.create()
		}
	case have.Spec.Labels[stack.LabelHash] == s.Hash && len(Drift(have.Spec)) == 0:
		tasks, observed := cur.Tasks[have.ID]
		if !observed || opts.NoWait || s.IsJob() {
			return nil
		}
		unchanged = true
		id, since = have.ID, have.UpdatedAt
		why := NotConverged(*have, tasks)
		converged = why == ""
		if converged && (a.Ready == nil || len(s.Endpoints) == 0) {
			return nil
		}
		if why != "" {
			a.progressf("service %s: spec unchanged but not converged (%s)", s.Name, why)
		}
		if why != "" && stuck(*have, tasks) {
			// Swarm is not bringing it back by itself (a paused update, tasks that ended and
			// are not replaced): roll its tasks out again on the same spec.
			a.progressf("service %s: forcing a new rollout", s.Name)
			live := have.Spec
			live.TaskTemplate.ForceUpdate++
			m.inc()
			if _, err := a.Client.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: have.Version, Spec: live}); err != nil {
				return fail(fmt.Errorf("forced update: %w", err))
			}
		}
	default:
		id = have.ID
		since = have.UpdatedAt
		// Keep what others manage on the live service: the scheduler's run labels and the
		// force-update counter (bumping it would restart every task).
		for k, v := range have.Spec.Labels {
			if strings.HasPrefix(k, stack.LabelRunPrefix) {
				spec.Labels[k] = v
			}
		}
		spec.TaskTemplate.ForceUpdate = have.Spec.TaskTemplate.ForceUpdate
		changes = changedFields(have.Spec, s.Spec)
		if have.Spec.Labels[stack.LabelHash] == s.Hash {
			changes = Drift(have.Spec)
		}
		a.progressf("service %s: update (%s)", s.Name, strings.Join(changes, ", "))
		m.inc()
		if _, err := a.Client.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: have.Version, Spec: spec}); err != nil {
			return fail(fmt.Errorf("update: %w", err))
		}
	}
	if opts.NoWait {
		return nil
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	// The timeout runs once every dependency is up (at once for a service not started
	// early); a failed dependency ends the wait with a *dependencyError as its cause.
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	depsUp := make(chan struct{})
	var depsDone <-chan error
	if dependenciesUp(deps) {
		close(depsUp) // now, so failing fast counts from the first poll
	} else {
		depsDone = dependenciesDone(deps)
	}
	go func() {
		if depsDone != nil {
			select {
			case err := <-depsDone:
				if err != nil {
					cancel(err)
					return
				}
				close(depsUp)
			case <-wctx.Done():
				return
			}
		}
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancel(context.DeadlineExceeded)
		case <-wctx.Done():
		}
	}()
	if !converged {
		err = a.wait(wctx, stackName, s, id, since, depsUp)
	}
	if err == nil && a.Ready != nil && len(s.Endpoints) > 0 {
		err = a.waitReady(wctx, stackName, s)
	}
	if err == nil {
		// A service started early is only done once what it depends on is.
		select {
		case <-depsUp:
		case <-wctx.Done():
			err = fail(fmt.Errorf("interrupted while waiting for its dependencies: %w", context.Cause(wctx)))
		}
	}
	var de *dependencyError
	if err != nil && errors.As(context.Cause(wctx), &de) && ctx.Err() == nil {
		// Its dependency failed: the apply reports that. Do not leave behind a service this
		// apply created that would only restart until the dependency answers.
		if have == nil {
			a.progressf("service %s: removed again: %v", s.Name, de)
			m.inc()
			if _, rerr := a.Client.ServiceRemove(context.WithoutCancel(ctx), id, client.ServiceRemoveOptions{}); rerr != nil {
				a.progressf("service %s: not removed: %v", s.Name, rerr)
			}
		}
		return de
	}
	var se *ServiceError
	if err != nil && have != nil && errors.As(err, &se) {
		se.Changes = changes
		// Swarm rolls back updates whose tasks fail, not ones that never converge or whose
		// endpoints never answer: ask for the rollback so the service is not left
		// half-updated. A job still running is not rolled back: that would stop its run.
		timedOut := errors.Is(context.Cause(wctx), context.DeadlineExceeded)
		if !se.RolledBack && !unchanged && !s.IsJob() && timedOut && ctx.Err() == nil {
			se.RolledBack = a.rollback(ctx, s, id, m)
		}
	}
	return err
}

// rollback asks Swarm to put the service back on its previous spec and reports whether it
// was accepted.
func (a *Applier) rollback(ctx context.Context, s Service, id string, m *mutations) bool {
	insp, err := a.Client.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	if err != nil || insp.Service.PreviousSpec == nil {
		return false
	}
	a.progressf("service %s: not converged in time, rolling back", s.Name)
	m.inc()
	_, err = a.Client.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: insp.Service.Version,
		Spec: insp.Service.Spec, Rollback: "previous"})
	if err != nil {
		a.progressf("service %s: rollback refused: %v", s.Name, err)
		return false
	}
	return true
}

// resolveRefs fills the IDs of secret and config references from their names.
func resolveRefs(spec swarm.ServiceSpec, secretIDs, configIDs map[string]string) (swarm.ServiceSpec, error) {
	out := deepcopy.Of(spec)
	for _, ref := range out.TaskTemplate.ContainerSpec.Secrets {
		ref.SecretID = secretIDs[ref.SecretName]
		if ref.SecretID == "" {
			return out, fmt.Errorf("secret %q does not exist", ref.SecretName)
		}
	}
	for _, ref := range out.TaskTemplate.ContainerSpec.Configs {
		ref.ConfigID = configIDs[ref.ConfigName]
		if ref.ConfigID == "" {
			return out, fmt.Errorf("config %q does not exist", ref.ConfigName)
		}
	}
	return out, nil
}

// cleanup removes old versions of the stack's secrets and configs (no desired service uses
// them anymore) and, when pruning, services and networks the stack no longer has.
func (a *Applier) cleanup(ctx context.Context, d *Desired, cur *Current, prune bool, m *mutations) error {
	want := map[string]bool{}
	for _, s := range d.Services {
		want[s.Name] = true
	}
	if prune {
		var pruned []swarm.Service
		for _, s := range cur.Services {
			if !want[s.Spec.Name] {
				a.progressf("service %s: remove (pruned)", s.Spec.Name)
				m.inc()
				if _, err := a.Client.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil {
					return fmt.Errorf("stack %q: service %q: remove: %w", d.Stack, s.Spec.Name, err)
				}
				pruned = append(pruned, s)
			}
		}
		// Their networks can only go once their containers have stopped.
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := a.waitNoTasks(wctx, d.Stack, pruned); err != nil {
			return fmt.Errorf("stack %q: %w", d.Stack, err)
		}
	}
	inUse, err := a.referenced(ctx, d.Stack)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, s := range d.Secrets {
		keep[s.Name] = true
	}
	for _, c := range d.Configs {
		keep[c.Name] = true
	}
	for _, s := range cur.Secrets {
		if !keep[s.Spec.Name] && !inUse[s.ID] {
			a.progressf("secret %s: remove (unused)", s.Spec.Name)
			m.inc()
			if _, err := a.Client.SecretRemove(ctx, s.ID, client.SecretRemoveOptions{}); err != nil {
				a.progressf("secret %s: not removed: %v", s.Spec.Name, err)
			}
		}
	}
	for _, c := range cur.Configs {
		if !keep[c.Spec.Name] && !inUse[c.ID] {
			a.progressf("config %s: remove (unused)", c.Spec.Name)
			m.inc()
			if _, err := a.Client.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil {
				a.progressf("config %s: not removed: %v", c.Spec.Name, err)
			}
		}
	}
	if prune {
		wantNet := map[string]bool{}
		for _, n := range d.Networks {
			wantNet[n.Name] = true
		}
		for _, n := range cur.Networks {
			if !wantNet[n.Name] {
				a.progressf("network %s: remove (pruned)", n.Name)
				m.inc()
				// Endpoints of just-stopped containers detach asynchronously: retry a while.
				rctx, cancel := context.WithTimeout(ctx, time.Minute)
				err := retry(rctx, a.poll(), func() error {
					_, err := a.Client.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
					return goneIsDone(err)
				})
				cancel()
				if err != nil {
					return fmt.Errorf("stack %q: network %q: remove: %w", d.Stack, n.Name, err)
				}
			}
		}
	}
	return nil
}

// referenced returns the IDs of secrets and configs that services of the namespace use now,
// and those of a previous spec Swarm may still roll back to (an update in progress or paused).
// Once an update completed, the previous spec's versions are unused and can be removed.
func (a *Applier) referenced(ctx context.Context, stackName string) (map[string]bool, error) {
	svcs, err := a.Client.ServiceList(ctx, client.ServiceListOptions{Filters: namespaceFilter(stackName)})
	if err != nil {
		return nil, fmt.Errorf("stack %q: list services: %w", stackName, err)
	}
	used := map[string]bool{}
	for _, s := range svcs.Items {
		specs := []*swarm.ServiceSpec{&s.Spec}
		if s.UpdateStatus == nil || s.UpdateStatus.State != swarm.UpdateStateCompleted {
			specs = append(specs, s.PreviousSpec)
		}
		for _, sp := range specs {
			if sp == nil || sp.TaskTemplate.ContainerSpec == nil {
				continue
			}
			for _, r := range sp.TaskTemplate.ContainerSpec.Secrets {
				used[r.SecretID] = true
			}
			for _, r := range sp.TaskTemplate.ContainerSpec.Configs {
				used[r.ConfigID] = true
			}
		}
	}
	return used, nil
}

type mutations struct {
	mu sync.Mutex
	n  int
}

func (m *mutations) inc() {
	m.mu.Lock()
	m.n++
	m.mu.Unlock()
}

func (m *mutations) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

const secretAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// randomString returns n characters from a URL- and shell-safe alphabet, from crypto/rand.
func randomString(n int) string {
	var b strings.Builder
	max := big.NewInt(int64(len(secretAlphabet)))
	for i := 0; i < n; i++ {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("kargo: crypto/rand failed: " + err.Error())
		}
		b.WriteByte(secretAlphabet[k.Int64()])
	}
	return b.String()
}

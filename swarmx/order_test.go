package swarmx_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/fakeengine"
	"github.com/kalisio/kargo/internal/syncbuf"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heldEngine is the fake engine where the running tasks of held services show another state:
// starting (the container runs, its health check has not passed yet) or pending (no
// container yet), until released.
type heldEngine struct {
	*fakeengine.Engine
	mu     sync.Mutex
	held   map[string]swarm.TaskState // by Swarm service name
	refuse string                     // a Swarm service name whose create fails
}

func (h *heldEngine) ServiceCreate(ctx context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	h.mu.Lock()
	refused := o.Spec.Name == h.refuse
	h.mu.Unlock()
	if refused {
		return client.ServiceCreateResult{}, errors.New("invalid spec: refused by the engine")
	}
	return h.Engine.ServiceCreate(ctx, o)
}

func (h *heldEngine) hold(name string, state swarm.TaskState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held[name] = state
}

func (h *heldEngine) release(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.held, name)
}

func (h *heldEngine) TaskList(ctx context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	r, err := h.Engine.TaskList(ctx, o)
	h.mu.Lock()
	byID := map[string]swarm.TaskState{}
	for name, state := range h.held {
		if s, ok := h.Engine.Service(name); ok {
			byID[s.ID] = state
		}
	}
	h.mu.Unlock()
	for i, t := range r.Items {
		if state, ok := byID[t.ServiceID]; ok && t.Status.State == swarm.TaskStateRunning {
			r.Items[i].Status.State = state
		}
	}
	return r, err
}

// heldApplier returns an Applier over a fresh held engine, polling fast.
func heldApplier(t *testing.T) (*swarmx.Applier, *heldEngine) {
	t.Helper()
	h := &heldEngine{Engine: fakeengine.New(), held: map[string]swarm.TaskState{}}
	var progress syncbuf.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("progress:\n%s", progress.String())
		}
	})
	return &swarmx.Applier{Client: h, Source: emptySource, Progress: &progress, Poll: time.Millisecond}, h
}

// eventually fails the test when cond is still false after many polls.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 10000; i++ {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

// polled waits until the engine's tasks were listed n more times.
func polled(t *testing.T, e *heldEngine, n int) {
	t.Helper()
	from := len(e.CallsTo("TaskList"))
	eventually(t, "polled", func() bool { return len(e.CallsTo("TaskList")) >= from+n })
}

func created(e *heldEngine, name string) bool {
	return slices.ContainsFunc(e.CallsTo("ServiceCreate"), func(c fakeengine.Call) bool { return c.Name == name })
}

// applyAsync runs Apply in the background; the returned function waits for its error.
func applyAsync(a *swarmx.Applier, st *stack.Stack, opts swarmx.ApplyOptions) func() error {
	done := make(chan error, 1)
	go func() {
		_, err := a.Apply(context.Background(), st, opts)
		done <- err
	}()
	return func() error { return <-done }
}

// A cold apply creates a dependent right after its dependency, before the dependency's
// tasks run or pass their health checks, and still returns only once everything converged.
func TestApplyCreatesDependentsRightAfterTheirDependencies(t *testing.T) {
	a, e := heldApplier(t)
	e.hold("maps_db", swarm.TaskStatePending) // scheduled, no container yet
	done := make(chan error, 1)
	go func() {
		_, err := a.Apply(context.Background(), gisStack("info"), swarmx.ApplyOptions{})
		done <- err
	}()

	eventually(t, "web created", func() bool { return created(e, "maps_web") })
	calls := e.Calls()
	assert.Less(t, indexOf(t, calls, "ServiceCreate", "maps_db"), indexOf(t, calls, "ServiceCreate", "maps_api"))
	assert.Less(t, indexOf(t, calls, "ServiceCreate", "maps_api"), indexOf(t, calls, "ServiceCreate", "maps_web"))
	polled(t, e, 20)
	select {
	case err := <-done:
		t.Fatalf("the apply returned (%v) while db had no container yet", err)
	default:
	}

	e.release("maps_db")
	require.NoError(t, <-done)
	assert.Len(t, e.Services(), 4)
}

// A dependency whose create the engine refuses fails the apply naming it, and what depends
// on it is never created.
func TestApplyDoesNotCreateDependentsOfARefusedService(t *testing.T) {
	a, e := heldApplier(t)
	e.refuse = "maps_db"
	_, err := a.Apply(context.Background(), gisStack("info"), swarmx.ApplyOptions{})
	var se *swarmx.ServiceError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "db", se.Service)
	assert.Contains(t, err.Error(), "refused by the engine")
	assert.False(t, created(e, "maps_api"), "api depends on db")
	assert.False(t, created(e, "maps_web"), "web depends on api")
	assert.True(t, created(e, "maps_tiles"), "an independent service is created")
}

// A job that depends on a service being created starts only once that service converged
// (a job runs once: it must find what it needs answering).
func TestApplyStartsADependentJobOnceItsDependencyConverged(t *testing.T) {
	a, e := heldApplier(t)
	e.hold("maps_db", swarm.TaskStateStarting)
	loader := svc("loader")
	loader.Mode = stack.ReplicatedJob
	loader.DependsOn = []string{"db"}
	wait := applyAsync(a, stack.New("maps", svc("db"), loader), swarmx.ApplyOptions{})

	eventually(t, "db created", func() bool { return created(e, "maps_db") })
	polled(t, e, 20)
	assert.False(t, created(e, "maps_loader"), "the job waits for db to be healthy")
	e.release("maps_db")
	require.NoError(t, wait())
	assert.True(t, created(e, "maps_loader"))
}

// A dependency whose health check never passes fails the apply with its own name and
// cause; the dependents this apply created early are removed again, and are not reported.
func TestApplyFailedDependencyFailsTheApplyNamingIt(t *testing.T) {
	a, e := heldApplier(t)
	e.hold("maps_db", swarm.TaskStateStarting)
	wait := applyAsync(a, gisStack("info"), swarmx.ApplyOptions{})
	eventually(t, "web created", func() bool { return created(e, "maps_web") })

	for i := 0; i < 3; i++ { // Swarm stops each unhealthy task and starts another
		e.StopTask("maps_db", swarm.TaskStateFailed, "unhealthy container")
		e.StartTask("maps_db")
		e.RunStarting("maps_db")
	}
	err := wait()
	var se *swarmx.ServiceError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "db", se.Service)
	assert.Contains(t, err.Error(), "unhealthy container")
	assert.NotContains(t, err.Error(), `"api"`, "only the cause is reported")
	assert.NotContains(t, err.Error(), `"web"`)

	_, ok := e.Service("maps_api")
	assert.False(t, ok, "api, created early, is removed again")
	_, ok = e.Service("maps_web")
	assert.False(t, ok)
	_, ok = e.Service("maps_tiles")
	assert.True(t, ok, "an independent service is kept")
	_, ok = e.Service("maps_db")
	assert.True(t, ok, "the failed service stays, to be inspected")
}

// A dependent started early may fail while its dependency is not up yet (it cannot connect);
// that does not fail the apply, as long as it converges once the dependency is up.
func TestApplyExcusesADependentFailingBeforeItsDependencyIsUp(t *testing.T) {
	a, e := heldApplier(t)
	e.hold("maps_db", swarm.TaskStateStarting)
	e.hold("maps_api", swarm.TaskStateStarting)
	api := svc("api")
	api.DependsOn = []string{"db"}
	wait := applyAsync(a, stack.New("maps", svc("db"), api), swarmx.ApplyOptions{})
	eventually(t, "api created", func() bool { return created(e, "maps_api") })
	for i := 0; i < 4; i++ {
		e.StopTask("maps_api", swarm.TaskStateFailed, "connection refused")
		e.StartTask("maps_api")
		e.RunStarting("maps_api")
	}
	polled(t, e, 20)
	e.release("maps_db")
	e.release("maps_api")
	require.NoError(t, wait())
}

// An update of a dependent still waits for its dependency's update to converge.
func TestApplyUpdatesADependentOnceItsDependencyConverged(t *testing.T) {
	a, e := heldApplier(t)
	_, err := a.Apply(context.Background(), gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	st := gisStack("debug")
	st.Service("db").Env = map[string]string{"V": "2"}
	e.Reset()
	e.Stall["maps_db"] = true // its new tasks stay starting
	_, err = a.Apply(context.Background(), st, swarmx.ApplyOptions{Timeout: 200 * time.Millisecond})
	var se *swarmx.ServiceError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "db", se.Service)
	assert.Empty(t, e.CallsTo("ServiceCreate"))
	for _, c := range e.CallsTo("ServiceUpdate") {
		assert.Equal(t, "maps_db", c.Name, "api is not updated while db's update has not converged")
	}
}

// A service Swarm would give up restarting (a bounded restart policy) is created only once
// its dependency converged: failing while it waits would exhaust its attempts.
func TestApplyCreatesABoundedRestartDependentOnceItsDependencyConverged(t *testing.T) {
	a, e := heldApplier(t)
	e.hold("maps_db", swarm.TaskStateStarting)
	api := svc("api")
	api.DependsOn = []string{"db"}
	api.Restart = &stack.RestartPolicy{Condition: "on-failure", MaxAttempts: 2}
	wait := applyAsync(a, stack.New("maps", svc("db"), api), swarmx.ApplyOptions{})
	eventually(t, "db created", func() bool { return created(e, "maps_db") })
	polled(t, e, 20)
	assert.False(t, created(e, "maps_api"))
	e.release("maps_db")
	require.NoError(t, wait())
	assert.True(t, created(e, "maps_api"))
}

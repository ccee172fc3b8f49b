package swarmx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/fakeengine"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A task that ended and is not replaced (exit 0 under on-failure) leaves the service at 1/2
// with its spec unchanged: plan shows it not converged, apply rolls its tasks out again and
// waits, instead of "0 changes" while it stays at 1/2.
func TestApplyBringsBackAnUnchangedServiceThatLostATask(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	_, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	require.True(t, e.StopTask("maps_tiles", swarm.TaskStateComplete, "finished"))
	e.Reset()

	p, err := a.Plan(ctx, gisStack("info"))
	require.NoError(t, err)
	act, _ := p.Find(swarmx.KindService, "maps_tiles")
	assert.Equal(t, swarmx.Converge, act.Op)
	assert.Contains(t, act.Note, "not converged: 1/2 running")
	assert.Contains(t, p.String(), "! service maps_tiles [not converged: 1/2 running")
	assert.Contains(t, p.String(), ", 1 not converged")
	assert.Empty(t, e.Mutations(), "plan never mutates")
	sts, err := a.Status(ctx, "maps")
	require.NoError(t, err)
	for _, s := range sts {
		if s.Name == "maps_tiles" {
			assert.Equal(t, "failing", s.Health)
			assert.Equal(t, uint64(1), s.Running)
		}
	}

	res, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"ServiceUpdate maps_tiles"}, methods(e.Mutations()), "a forced rollout of the stuck service only")
	got, _ := e.Service("maps_tiles")
	assert.Equal(t, uint64(1), got.Spec.TaskTemplate.ForceUpdate)
	changes := res.Plan.Changes()
	require.Len(t, changes, 1)
	assert.Equal(t, swarmx.Converge, changes[0].Op)

	e.Reset()
	p, err = a.Plan(ctx, gisStack("info"))
	require.NoError(t, err)
	assert.Empty(t, p.Changes(), "converged again: %s", p)
}

// A paused update is resumed by a new rollout on the same spec.
func TestApplyResumesAPausedUpdate(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	_, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	e.PauseUpdate("maps_api", "update paused due to failure or early termination of task x")
	e.Reset()

	p, err := a.Plan(ctx, gisStack("info"))
	require.NoError(t, err)
	act, _ := p.Find(swarmx.KindService, "maps_api")
	assert.Equal(t, swarmx.Converge, act.Op)
	assert.Contains(t, act.Note, "update paused")
	sts, err := a.Status(ctx, "maps")
	require.NoError(t, err)
	for _, s := range sts {
		if s.Name == "maps_api" {
			assert.Equal(t, "paused", s.Health)
			assert.Contains(t, s.LastError, "update paused due to failure")
		}
	}

	_, err = a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"ServiceUpdate maps_api"}, methods(e.Mutations()))
	got, _ := e.Service("maps_api")
	assert.Equal(t, swarm.UpdateStateCompleted, got.UpdateStatus.State)
}

// A replacement on its way (Swarm restarting a task) is waited for, without any call; one that
// never comes fails the apply naming the service, and nothing is rolled back (nothing changed).
func TestApplyWaitsForAReplacementOnItsWay(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	_, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	require.True(t, e.StopTask("maps_tiles", swarm.TaskStateFailed, "task: non-zero exit (137)"))
	e.StartTask("maps_tiles")
	e.Reset()

	_, err = a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{Timeout: 100 * time.Millisecond})
	var se *swarmx.ServiceError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "tiles", se.Service)
	assert.False(t, se.RolledBack)
	assert.Contains(t, err.Error(), "not converged in time (1/2 running")
	assert.Contains(t, err.Error(), "non-zero exit (137)")
	assert.Empty(t, e.Mutations(), "Swarm is restarting it: no forced rollout, no rollback")

	go func() {
		time.Sleep(50 * time.Millisecond)
		e.RunStarting("maps_tiles")
	}()
	res, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{Timeout: 10 * time.Second})
	require.NoError(t, err)
	assert.Empty(t, e.Mutations())
	act, _ := res.Plan.Find(swarmx.KindService, "maps_tiles")
	assert.Equal(t, swarmx.Converge, act.Op, "reported, not hidden as unchanged")
}

// An apply interrupted while an update is in progress leaves it to Swarm: the next apply
// finds the spec applied, waits for the update instead of trusting the hash, and converges.
func TestApplyAfterAnInterruptedApply(t *testing.T) {
	a, e := applier(t)
	_, err := a.Apply(context.Background(), gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)

	e.Stall["maps_api"] = true
	ctx, cancel := context.WithCancel(context.Background())
	go afterUpdate(e, "maps_api", cancel)
	_, err = a.Apply(ctx, gisStack("debug"), swarmx.ApplyOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "interrupted while waiting")
	assert.NotContains(t, err.Error(), "rolled back")
	got, _ := e.Service("maps_api")
	assert.Contains(t, got.Spec.TaskTemplate.ContainerSpec.Env, "LOG_LEVEL=debug", "an interrupt does not roll back")

	p, err := a.Plan(context.Background(), gisStack("debug"))
	require.NoError(t, err)
	act, _ := p.Find(swarmx.KindService, "maps_api")
	assert.Equal(t, swarmx.Converge, act.Op)
	assert.True(t, strings.HasPrefix(act.Note, "not converged: updating in progress"), act.Note)

	e.Reset()
	go func() {
		time.Sleep(50 * time.Millisecond)
		e.FinishUpdate("maps_api")
	}()
	_, err = a.Apply(context.Background(), gisStack("debug"), swarmx.ApplyOptions{Timeout: 10 * time.Second})
	require.NoError(t, err)
	assert.Empty(t, e.Mutations(), "the update in progress is waited for, not redone")
	p, err = a.Plan(context.Background(), gisStack("debug"))
	require.NoError(t, err)
	assert.Empty(t, p.Changes())
}

// An update whose new tasks never pass their health check is rolled back by Swarm; the tasks it
// stopped may exit 0, so the error says what failed rather than only "exited with status 0".
func TestApplyNamesANeverHealthyUpdate(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	st := gisStack("info")
	st.Service("api").Health = &stack.Health{Test: []string{"CMD-SHELL", "curl -f http://127.0.0.1/"}}
	_, err := a.Apply(ctx, st, swarmx.ApplyOptions{})
	require.NoError(t, err)

	bad := gisStack("info")
	bad.Service("api").Health = &stack.Health{Test: []string{"CMD-SHELL", "exit 1"}}
	e.Stall["maps_api"] = true
	go afterUpdate(e, "maps_api", func() { e.RollBack("maps_api", "finished") })
	_, err = a.Apply(ctx, bad, swarmx.ApplyOptions{Timeout: 10 * time.Second})
	var se *swarmx.ServiceError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "api", se.Service)
	assert.True(t, se.RolledBack)
	assert.Equal(t, "no task of the update passed its health check (last: task exited with status 0: finished)", se.TaskError)
	assert.Contains(t, err.Error(), `service "api": update failed`)
	assert.Contains(t, err.Error(), "undoing TaskTemplate.ContainerSpec.Healthcheck.Test")
}

// afterUpdate calls f once the engine has received an update of the named service and the
// apply has polled its tasks since (as it would before Swarm acts on the update), however
// long the apply takes to get there (secret digests are deliberately slow to compute).
func afterUpdate(e *fakeengine.Engine, name string, f func()) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		updated := false
		for _, c := range e.Calls() {
			if c.Method == "ServiceUpdate" && c.Name == name {
				updated = true
			} else if updated && c.Method == "TaskList" {
				f()
				return
			}
		}
	}
	f()
}

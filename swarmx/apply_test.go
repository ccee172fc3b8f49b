package swarmx_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/fakeengine"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gisStack is a small stack with a dependency chain db <- api <- web, an independent
// service, a declared network, a secret, a config and a volume.
func gisStack(env string) *stack.Stack {
	db := svc("db")
	db.Mounts = []stack.Mount{{Source: "pgdata", Target: "/var/lib/postgresql/data"}}
	db.Secrets = []stack.FileRef{{Source: "pgpass"}}
	db.Networks = []string{"back"}
	db.Declares.Secrets = []stack.Secret{{Name: "pgpass", Data: []byte("pg-s3cret-value")}}
	db.Declares.Volumes = []stack.Volume{{Name: "pgdata"}}
	api := svc("api")
	api.DependsOn = []string{"db"}
	api.Networks = []string{"back", stack.DefaultNetwork}
	api.Env = map[string]string{"LOG_LEVEL": env}
	api.Secrets = []stack.FileRef{{Source: "pgpass"}}
	web := svc("web")
	web.DependsOn = []string{"api"}
	web.Ports = []stack.Port{{Target: 80, Published: 8080}}
	web.Configs = []stack.FileRef{{Source: "nginx", Target: "/etc/nginx/nginx.conf"}}
	tiles := svc("tiles")
	tiles.Replicas = stack.Ptr(uint64(2))
	return stack.New("maps", db, api, web, tiles,
		stack.Network{Name: "back", Internal: true},
		stack.Config{Name: "nginx", Data: []byte("events {}")})
}

func methods(calls []fakeengine.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.String())
	}
	return out
}

func indexOf(t *testing.T, calls []fakeengine.Call, method, name string) int {
	t.Helper()
	for i, c := range calls {
		if c.Method == method && (name == "" || c.Name == name) {
			return i
		}
	}
	t.Fatalf("no call %s %s in %v", method, name, methods(calls))
	return -1
}

func lastIndexOf(calls []fakeengine.Call, method string) int {
	last := -1
	for i, c := range calls {
		if c.Method == method {
			last = i
		}
	}
	return last
}

func TestApplyInvalidStackMakesNoCall(t *testing.T) {
	a, e := applier(t)
	st := gisStack("info")
	st.Service("web").DependsOn = []string{"ghost"}
	res, err := a.Apply(context.Background(), st, swarmx.ApplyOptions{})
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "services[web].dependsOn[0]", ve.Problems[0].Path)
	assert.Nil(t, res)
	assert.Empty(t, e.Mutations())
	assert.Empty(t, e.Calls(), "an invalid stack is rejected before the engine is contacted")

	_, err = a.Plan(context.Background(), st)
	require.ErrorAs(t, err, &ve)
	assert.Empty(t, e.Calls())
}

func TestApplyUnrenderableStackMakesNoCall(t *testing.T) {
	a, e := applier(t)
	st := stack.New("maps", svc("a"), stack.Secret{Name: "pw", Env: "KARGO_UNSET_VAR"})
	_, err := a.Apply(context.Background(), st, swarmx.ApplyOptions{})
	var re *swarmx.RenderError
	require.ErrorAs(t, err, &re)
	assert.Empty(t, e.Calls())
}

func TestApplyMissingExternalObjectsMakesNoMutation(t *testing.T) {
	tests := []struct {
		name string
		part stack.Part
		ref  func(*stack.Service)
		msg  string
	}{
		{"network", stack.Network{Name: "traefik", External: true}, func(s *stack.Service) { s.Networks = []string{"traefik"} },
			`external network "traefik" does not exist`},
		{"secret", stack.Secret{Name: "tls", External: true}, func(s *stack.Service) { s.Secrets = []stack.FileRef{{Source: "tls"}} },
			`external secret "tls" does not exist`},
		{"config", stack.Config{Name: "shared", External: true}, func(s *stack.Service) {
			s.Configs = []stack.FileRef{{Source: "shared", Target: "/etc/shared"}}
		}, `external config "shared" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, e := applier(t)
			s := svc("a")
			tt.ref(s)
			_, err := a.Apply(context.Background(), stack.New("maps", s, tt.part), swarmx.ApplyOptions{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Contains(t, err.Error(), "nothing applied")
			assert.Empty(t, e.Mutations(), "calls: %v", methods(e.Calls()))
		})
	}
	t.Run("present external network is used as is", func(t *testing.T) {
		a, e := applier(t)
		e.AddNetwork("traefik", nil)
		s := svc("a")
		s.Networks = []string{"traefik"}
		_, err := a.Apply(context.Background(), stack.New("maps", s, stack.Network{Name: "traefik", External: true}), swarmx.ApplyOptions{})
		require.NoError(t, err)
		assert.Empty(t, e.CallsTo("NetworkCreate"))
		got, _ := e.Service("maps_a")
		assert.Equal(t, "traefik", got.Spec.TaskTemplate.Networks[0].Target)
	})
	t.Run("present external secret and config are referenced by their IDs", func(t *testing.T) {
		a, e := applier(t)
		e.AddSecret("tls", []byte("key"), nil) // no namespace label: not the stack's own
		e.AddConfig("shared", []byte("conf"), nil)
		s := svc("a")
		s.Secrets = []stack.FileRef{{Source: "tls"}}
		s.Configs = []stack.FileRef{{Source: "shared", Target: "/etc/shared"}}
		st := stack.New("maps", s, stack.Secret{Name: "tls", External: true}, stack.Config{Name: "shared", External: true})
		_, err := a.Apply(context.Background(), st, swarmx.ApplyOptions{})
		require.NoError(t, err)
		assert.Empty(t, e.CallsTo("SecretCreate"))
		assert.Empty(t, e.CallsTo("ConfigCreate"))
		got, _ := e.Service("maps_a")
		sec, _ := e.Secret("tls")
		cs := got.Spec.TaskTemplate.ContainerSpec
		require.Len(t, cs.Secrets, 1)
		assert.Equal(t, sec.ID, cs.Secrets[0].SecretID)
		require.Len(t, cs.Configs, 1)
		assert.NotEmpty(t, cs.Configs[0].ConfigID)
		// An external secret is never removed as an "unused version" of the stack.
		_, err = a.Apply(context.Background(), st, swarmx.ApplyOptions{})
		require.NoError(t, err)
		assert.Empty(t, e.CallsTo("SecretRemove"))
	})
}

func TestApplyFirstTime(t *testing.T) {
	a, e := applier(t)
	res, err := a.Apply(context.Background(), gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	muts := e.Mutations()
	assert.Equal(t, len(muts), res.Mutations)
	// 2 networks, 1 secret, 1 config, 4 services; volumes are created by the engine on first mount.
	assert.Len(t, muts, 8, "mutations: %v", methods(muts))

	// Networks first, then secrets and configs, then services.
	lastNet := lastIndexOf(muts, "NetworkCreate")
	firstSec := indexOf(t, muts, "SecretCreate", "")
	firstCfg := indexOf(t, muts, "ConfigCreate", "")
	firstSvc := indexOf(t, muts, "ServiceCreate", "")
	assert.Less(t, lastNet, firstSec)
	assert.Less(t, lastNet, firstCfg)
	assert.Less(t, max(lastIndexOf(muts, "SecretCreate"), lastIndexOf(muts, "ConfigCreate")), firstSvc)

	// Depends-on order: db before api before web, each created after the previous converged.
	db := indexOf(t, muts, "ServiceCreate", "maps_db")
	api := indexOf(t, muts, "ServiceCreate", "maps_api")
	web := indexOf(t, muts, "ServiceCreate", "maps_web")
	assert.Less(t, db, api)
	assert.Less(t, api, web)
	calls := e.Calls()
	dbWait := indexOf(t, calls, "ServiceInspect", "")
	assert.Less(t, dbWait, indexOf(t, calls, "ServiceCreate", "maps_api"), "api is created once db converged")

	assert.Equal(t, []string{"maps_back", "maps_default"}, e.NetworkNames())
	assert.Len(t, e.SecretNames(), 1)
	assert.True(t, strings.HasPrefix(e.SecretNames()[0], "maps_pgpass_"))
	assert.Len(t, e.ConfigNames(), 1)
	assert.Equal(t, []string{"maps_pgdata"}, e.VolumeNames())

	// Secret references carry the IDs of the created secrets.
	got, ok := e.Service("maps_api")
	require.True(t, ok)
	ref := got.Spec.TaskTemplate.ContainerSpec.Secrets[0]
	assert.Equal(t, e.SecretNames()[0], ref.SecretName)
	assert.NotEmpty(t, ref.SecretID)

	// The plan of the first apply listed every object to create.
	for _, act := range res.Plan.Actions {
		assert.Contains(t, []swarmx.Op{swarmx.Create}, act.Op, "%s", act)
	}
}

func TestApplyIndependentServicesAllCreated(t *testing.T) {
	a, e := applier(t)
	var parts []stack.Part
	for _, n := range []string{"a", "b", "c", "d"} {
		parts = append(parts, svc(n))
	}
	_, err := a.Apply(context.Background(), stack.New("maps", parts...), swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Len(t, e.CallsTo("ServiceCreate"), 4)
	assert.Len(t, e.Services(), 4)
}

func TestReapplyUnchangedMakesNoMutation(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	_, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	e.Reset()

	res, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Empty(t, e.Mutations(), "mutations: %v", methods(e.Mutations()))
	assert.Zero(t, res.Mutations)
	assert.Empty(t, res.Plan.Changes())

	p, err := a.Plan(ctx, gisStack("info"))
	require.NoError(t, err)
	assert.Empty(t, p.Changes())
	assert.Contains(t, p.String(), "0 to create, 0 to update, 0 to delete")
}

func TestApplyOneEnvChange(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	_, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	e.Reset()

	p, err := a.Plan(ctx, gisStack("debug"))
	require.NoError(t, err)
	require.Len(t, p.Changes(), 1)
	act := p.Changes()[0]
	assert.Equal(t, swarmx.Action{Kind: swarmx.KindService, Name: "maps_api", Op: swarmx.Update,
		Changes: []string{"TaskTemplate.ContainerSpec.Env.LOG_LEVEL"}}, act)
	assert.Empty(t, e.Mutations(), "plan never mutates")

	res, err := a.Apply(ctx, gisStack("debug"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []fakeengine.Call{{Method: "ServiceUpdate", Name: "maps_api", Mutating: true}}, e.Mutations())
	assert.Equal(t, 1, res.Mutations)
	got, _ := e.Service("maps_api")
	assert.Contains(t, got.Spec.TaskTemplate.ContainerSpec.Env, "LOG_LEVEL=debug")

	// And back to unchanged.
	p, err = a.Plan(ctx, gisStack("debug"))
	require.NoError(t, err)
	assert.Empty(t, p.Changes())
}

func TestApplyKeepsSchedulerLabels(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	job := func(img string) *stack.Stack {
		j := svc("loader")
		j.Image = img
		j.Mode = stack.ReplicatedJob
		j.Schedule = "0 0 * * * *"
		return stack.New("maps", j)
	}
	_, err := a.Apply(ctx, job("loader:1"), swarmx.ApplyOptions{})
	require.NoError(t, err)

	// The scheduler writes its run labels on the live service.
	got, _ := e.Service("maps_loader")
	got.Spec.Labels[stack.LabelRunPrefix+"last"] = "2024-01-01T00:00:00Z"
	got.Spec.TaskTemplate.ForceUpdate = 7 // the scheduler's run counter
	_, err = e.ServiceUpdate(ctx, got.ID, clientUpdate(got))
	require.NoError(t, err)
	e.Reset()

	p, err := a.Plan(ctx, job("loader:1"))
	require.NoError(t, err)
	assert.Empty(t, p.Changes(), "run labels are not a change")

	_, err = a.Apply(ctx, job("loader:2"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	got, _ = e.Service("maps_loader")
	assert.Equal(t, "loader:2", got.Spec.TaskTemplate.ContainerSpec.Image)
	assert.Equal(t, "2024-01-01T00:00:00Z", got.Spec.Labels[stack.LabelRunPrefix+"last"])
	assert.Equal(t, uint64(7), got.Spec.TaskTemplate.ForceUpdate, "the force-update counter is kept")
}

// A job still running when the wait times out is not rolled back (that would stop its run);
// an update whose endpoints never become ready is.
func TestApplyTimeoutRollbackRules(t *testing.T) {
	t.Run("job still running", func(t *testing.T) {
		a, e := applier(t)
		ctx := context.Background()
		job := func(img string) *stack.Stack {
			j := svc("loader")
			j.Image = img
			j.Mode = stack.ReplicatedJob
			return stack.New("maps", j)
		}
		_, err := a.Apply(ctx, job("loader:1"), swarmx.ApplyOptions{})
		require.NoError(t, err)
		e.Stall["maps_loader"] = true
		e.Reset()
		_, err = a.Apply(ctx, job("loader:2"), swarmx.ApplyOptions{Timeout: 300 * time.Millisecond})
		var se *swarmx.ServiceError
		require.ErrorAs(t, err, &se)
		assert.False(t, se.RolledBack, "%v", err)
		assert.Equal(t, []string{"ServiceUpdate maps_loader"}, methods(e.Mutations()), "no rollback update")
	})
	t.Run("endpoints never ready", func(t *testing.T) {
		a, e := applier(t)
		ctx := context.Background()
		web := func(level string) *stack.Stack {
			s := svc("web")
			s.Env = map[string]string{"LEVEL": level}
			s.Endpoints = []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms"}}
			return stack.New("maps", s)
		}
		_, err := a.Apply(ctx, web("1"), swarmx.ApplyOptions{})
		require.NoError(t, err)
		a.Ready = func(context.Context, swarmx.Service) error { return errors.New("WMS: layer roads missing") }
		e.Reset()
		_, err = a.Apply(ctx, web("2"), swarmx.ApplyOptions{Timeout: 300 * time.Millisecond})
		var se *swarmx.ServiceError
		require.ErrorAs(t, err, &se)
		assert.True(t, se.RolledBack, "%v", err)
		assert.Contains(t, err.Error(), "layer roads missing")
		assert.Equal(t, []string{"TaskTemplate.ContainerSpec.Env.LEVEL"}, se.Changes)
		got, _ := e.Service("maps_web")
		assert.Contains(t, got.Spec.TaskTemplate.ContainerSpec.Env, "LEVEL=1", "back on the previous spec")
	})
}

func TestApplyChangedSecretContent(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	st := func(pw string) *stack.Stack {
		s := svc("db")
		s.Secrets = []stack.FileRef{{Source: "pgpass"}}
		return stack.New("maps", s, stack.Secret{Name: "pgpass", Data: []byte(pw)})
	}
	_, err := a.Apply(ctx, st("first-password"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	old := e.SecretNames()
	require.Len(t, old, 1)
	e.Reset()

	p, err := a.Plan(ctx, st("second-password"))
	require.NoError(t, err)
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "second-password")
	assert.NotContains(t, string(b), "first-password")
	assert.NotContains(t, p.String(), "second-password")
	newAct := p.Changes()
	require.Len(t, newAct, 3, "create new version, update service, delete old version: %v", newAct)

	res, err := a.Apply(ctx, st("second-password"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	now := e.SecretNames()
	require.Len(t, now, 1, "old version removed: %v", now)
	assert.NotEqual(t, old[0], now[0])
	muts := e.Mutations()
	assert.Equal(t, []string{"SecretCreate " + now[0], "ServiceUpdate maps_db", "SecretRemove " + old[0]}, methods(muts))
	assert.Equal(t, 3, res.Mutations)

	// The service points at the new version, and the new content is what the engine holds.
	got, _ := e.Service("maps_db")
	ref := got.Spec.TaskTemplate.ContainerSpec.Secrets[0]
	assert.Equal(t, now[0], ref.SecretName)
	sec, ok := e.Secret(now[0])
	require.True(t, ok)
	assert.Equal(t, sec.ID, ref.SecretID)
	assert.Equal(t, []byte("second-password"), sec.Spec.Data)

	// Result JSON (what `apply -o json` prints) holds no value either.
	b, err = json.Marshal(res)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "second-password")
}

func TestApplyGeneratedSecretIsKept(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	st := func() *stack.Stack {
		s := svc("db")
		s.Secrets = []stack.FileRef{{Source: "pgpass"}}
		return stack.New("maps", s, stack.Secret{Name: "pgpass", Generate: 32})
	}
	_, err := a.Apply(ctx, st(), swarmx.ApplyOptions{})
	require.NoError(t, err)
	sec, ok := e.Secret("maps_pgpass")
	require.True(t, ok)
	assert.Len(t, sec.Spec.Data, 32)
	assert.Equal(t, "32", sec.Spec.Labels[stack.LabelGenerated])
	e.Reset()

	p, err := a.Plan(ctx, st())
	require.NoError(t, err)
	b, _ := json.Marshal(p)
	assert.NotContains(t, string(b), string(sec.Spec.Data))

	_, err = a.Apply(ctx, st(), swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Empty(t, e.Mutations())
	again, _ := e.Secret("maps_pgpass")
	assert.Equal(t, sec.Spec.Data, again.Spec.Data)
}

func TestPlanNeverContainsSecretValues(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	const value = "VERY-SECRET-VALUE-42"
	s := svc("db")
	s.Secrets = []stack.FileRef{{Source: "a"}, {Source: "b"}}
	a.Source = fakeSource(map[string]string{"PW": value}, map[string]string{"/pw": value})
	st := stack.New("maps", s, stack.Secret{Name: "a", Env: "PW"}, stack.Secret{Name: "b", File: "/pw"})

	p, err := a.Plan(ctx, st)
	require.NoError(t, err)
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.NotContains(t, string(b), value)
	assert.NotContains(t, p.String(), value)
	assert.Contains(t, string(b), `"maps_db"`, "the plan does describe the stack")

	res, err := a.Apply(ctx, st, swarmx.ApplyOptions{})
	require.NoError(t, err)
	b, _ = json.Marshal(res)
	assert.NotContains(t, string(b), value)
	// Nor does anything but the secrets themselves reach the engine with it.
	for _, svc := range e.Services() {
		b, _ := json.Marshal(svc)
		assert.NotContains(t, string(b), value)
	}
}

func TestApplyPrune(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	_, err := a.Apply(ctx, stack.New("maps", svc("a"), svc("b")), swarmx.ApplyOptions{})
	require.NoError(t, err)
	e.Reset()

	only := stack.New("maps", svc("a"))
	p, err := a.Plan(ctx, only)
	require.NoError(t, err)
	act, ok := p.Find(swarmx.KindService, "maps_b")
	require.True(t, ok)
	assert.Equal(t, swarmx.Delete, act.Op)

	_, err = a.Apply(ctx, only, swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Empty(t, e.Mutations(), "without prune nothing is removed")

	_, err = a.Apply(ctx, only, swarmx.ApplyOptions{Prune: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"ServiceRemove maps_b"}, methods(e.Mutations()))
}

func TestApplyNoWaitDoesNotPoll(t *testing.T) {
	a, e := applier(t)
	_, err := a.Apply(context.Background(), gisStack("info"), swarmx.ApplyOptions{NoWait: true})
	require.NoError(t, err)
	assert.Len(t, e.CallsTo("ServiceCreate"), 4)
	assert.Empty(t, e.CallsTo("ServiceInspect"))
	assert.Empty(t, e.CallsTo("TaskList"))
}

type recordingImages struct {
	images []string
	calls  int
	err    error
}

func (r *recordingImages) EnsureImages(_ context.Context, images []string, _ io.Writer) error {
	r.calls++
	r.images = images
	return r.err
}

func TestApplyEnsuresImagesFirst(t *testing.T) {
	a, e := applier(t)
	imgs := &recordingImages{}
	a.Images = imgs
	_, err := a.Apply(context.Background(), gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, imgs.calls)
	assert.Equal(t, []string{"example/api:1", "example/db:1", "example/tiles:1", "example/web:1"}, imgs.images)

	a2, e2 := applier(t)
	a2.Images = &recordingImages{err: errors.New("no build context")}
	_, err = a2.Apply(context.Background(), gisStack("info"), swarmx.ApplyOptions{})
	assert.ErrorContains(t, err, "no build context")
	assert.Empty(t, e2.Mutations())
	_ = e
}

func TestApplyRollback(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	_, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)

	e.Rollback["maps_api"] = "task: non-zero exit (1): LOG_LEVEL debug is not supported"
	_, err = a.Apply(ctx, gisStack("debug"), swarmx.ApplyOptions{Timeout: 5 * time.Second})
	require.Error(t, err)
	var se *swarmx.ServiceError
	require.ErrorAs(t, err, &se)
	assert.True(t, se.RolledBack)
	assert.Equal(t, "maps", se.Stack)
	assert.Equal(t, "api", se.Service)
	assert.Equal(t, "task: non-zero exit (1): LOG_LEVEL debug is not supported", se.TaskError)
	msg := err.Error()
	assert.Contains(t, msg, `service "api"`)
	assert.Contains(t, msg, "rolled back")
	assert.Contains(t, msg, "LOG_LEVEL debug is not supported")
	assert.Equal(t, []string{"TaskTemplate.ContainerSpec.Env.LOG_LEVEL"}, se.Changes, "what was rolled back")
	assert.Contains(t, msg, "undoing TaskTemplate.ContainerSpec.Env.LOG_LEVEL")

	// The service still runs the previous spec, and the next plan proposes the update again.
	got, _ := e.Service("maps_api")
	assert.Contains(t, got.Spec.TaskTemplate.ContainerSpec.Env, "LOG_LEVEL=info")
	p, err := a.Plan(ctx, gisStack("debug"))
	require.NoError(t, err)
	act, _ := p.Find(swarmx.KindService, "maps_api")
	assert.Equal(t, swarmx.Update, act.Op)
}

// An update that never converges is not rolled back by Swarm (no task fails): Apply asks for
// the rollback itself when its wait times out.
func TestApplyRollsBackAnUpdateThatNeverConverges(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	_, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)

	e.Stall["maps_api"] = true
	e.Reset()
	_, err = a.Apply(ctx, gisStack("debug"), swarmx.ApplyOptions{Timeout: 300 * time.Millisecond})
	var se *swarmx.ServiceError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "api", se.Service)
	assert.True(t, se.RolledBack, "%v", err)
	assert.Contains(t, err.Error(), "not converged in time")
	assert.Equal(t, []string{"TaskTemplate.ContainerSpec.Env.LOG_LEVEL"}, se.Changes)
	assert.Equal(t, []string{"ServiceUpdate maps_api", "ServiceUpdate maps_api"}, methods(e.Mutations()), "the update, then the rollback")
	got, _ := e.Service("maps_api")
	assert.Contains(t, got.Spec.TaskTemplate.ContainerSpec.Env, "LOG_LEVEL=info", "back on the previous spec")
}

func TestApplyTimeout(t *testing.T) {
	a, e := applier(t)
	e.Nodes = 0 // a global service with no node never converges
	g := svc("agent")
	g.Mode = stack.Global
	_, err := a.Apply(context.Background(), stack.New("maps", g), swarmx.ApplyOptions{Timeout: 20 * time.Millisecond})
	var se *swarmx.ServiceError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "agent", se.Service)
	assert.False(t, se.RolledBack)
	assert.Contains(t, err.Error(), "not converged in time")
}

func TestRemove(t *testing.T) {
	for _, volumes := range []bool{false, true} {
		name := "keeps volumes"
		if volumes {
			name = "with volumes"
		}
		t.Run(name, func(t *testing.T) {
			a, e := applier(t)
			ctx := context.Background()
			_, err := a.Apply(ctx, gisStack("info").Add(stack.Secret{Name: "gen", Generate: 16}), swarmx.ApplyOptions{})
			require.NoError(t, err)
			e.AddNetwork("other_default", map[string]string{stack.LabelNamespace: "other"})
			e.Reset()

			require.NoError(t, a.Remove(ctx, "maps", swarmx.RemoveOptions{Volumes: volumes, Timeout: time.Second}))
			muts := e.Mutations()
			lastSvc := lastIndexOf(muts, "ServiceRemove")
			assert.Equal(t, 3, lastSvc, "4 services removed first: %v", methods(muts))
			for _, m := range []string{"SecretRemove", "ConfigRemove", "NetworkRemove"} {
				assert.Greater(t, indexOf(t, muts, m, ""), lastSvc, m)
			}
			assert.Empty(t, e.Services())
			assert.Empty(t, e.ConfigNames())
			assert.Equal(t, []string{"other_default"}, e.NetworkNames(), "other stacks are left alone")
			if volumes {
				assert.Empty(t, e.SecretNames())
				assert.Empty(t, e.VolumeNames())
				assert.Equal(t, len(muts)-1, indexOf(t, muts, "VolumeRemove", "maps_pgdata"))
			} else {
				assert.Equal(t, []string{"maps_pgdata"}, e.VolumeNames())
				assert.Equal(t, []string{"maps_gen"}, e.SecretNames(), "generated secrets stay with the volumes")
				assert.Empty(t, e.CallsTo("VolumeRemove"))
			}
		})
	}
	t.Run("empty namespace", func(t *testing.T) {
		a, e := applier(t)
		require.NoError(t, a.Remove(context.Background(), "maps", swarmx.RemoveOptions{}))
		assert.Empty(t, e.Mutations())
	})
}

func TestStatus(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	st := gisStack("info")
	job := svc("loader")
	job.Mode = stack.ReplicatedJob
	job.Replicas = stack.Ptr(uint64(2))
	job.Schedule = "0 */10 * * * *"
	agent := svc("agent")
	agent.Mode = stack.Global
	st.Add(job, agent)
	_, err := a.Apply(ctx, st, swarmx.ApplyOptions{})
	require.NoError(t, err)
	e.Reset()

	sts, err := a.Status(ctx, "maps")
	require.NoError(t, err)
	assert.Empty(t, e.Mutations())
	var names []string
	for _, s := range sts {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"maps_agent", "maps_api", "maps_db", "maps_loader", "maps_tiles", "maps_web"}, names)
	byName := map[string]swarmx.ServiceStatus{}
	for _, s := range sts {
		byName[s.Name] = s
	}
	assert.Equal(t, swarmx.ServiceStatus{Name: "maps_tiles", Image: "example/tiles:1", Mode: "replicated", Desired: 2, Running: 2,
		Health: "healthy"}, byName["maps_tiles"])
	assert.Equal(t, []string{"8080:80/tcp (host)"}, byName["maps_web"].Ports)
	assert.Equal(t, "healthy", byName["maps_web"].Health)
	loader := byName["maps_loader"]
	assert.Equal(t, "replicated-job", loader.Mode)
	assert.Equal(t, "completed", loader.Health)
	assert.Equal(t, uint64(2), loader.Completed)
	assert.Equal(t, "0 */10 * * * *", loader.Schedule)
	assert.Equal(t, "global", byName["maps_agent"].Mode)
	assert.Equal(t, uint64(1), byName["maps_agent"].Desired)
	assert.Equal(t, "healthy", byName["maps_agent"].Health)

	// After a rolled-back update, status shows it with the task error.
	e.Rollback["maps_tiles"] = "exec format error"
	st2 := gisStack("info")
	st2.Service("tiles").Image = "example/tiles:2"
	st2.Add(job, agent)
	_, err = a.Apply(ctx, st2, swarmx.ApplyOptions{})
	require.Error(t, err)
	sts, err = a.Status(ctx, "maps")
	require.NoError(t, err)
	i := slices.IndexFunc(sts, func(s swarmx.ServiceStatus) bool { return s.Name == "maps_tiles" })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, "rollback_completed", sts[i].Update)
	assert.Equal(t, "exec format error", sts[i].LastError)
	assert.Equal(t, "example/tiles:1", sts[i].Image)

	none, err := a.Status(ctx, "other")
	require.NoError(t, err)
	assert.Empty(t, none)
}

func clientUpdate(s swarm.Service) client.ServiceUpdateOptions {
	return client.ServiceUpdateOptions{Version: s.Version, Spec: s.Spec}
}

func TestApplyGlobalConverges(t *testing.T) {
	a, e := applier(t)
	e.Nodes = 3
	g := svc("agent")
	g.Mode = stack.Global
	gj := svc("once")
	gj.Mode = stack.GlobalJob
	_, err := a.Apply(context.Background(), stack.New("maps", g, gj), swarmx.ApplyOptions{Timeout: 2 * time.Second})
	require.NoError(t, err, "global services converge although inspect gives no ServiceStatus")
	sts, err := a.Status(context.Background(), "maps")
	require.NoError(t, err)
	require.Len(t, sts, 2)
	assert.Equal(t, uint64(3), sts[0].Desired)
	assert.Equal(t, uint64(3), sts[0].Running)
	assert.Equal(t, "completed", sts[1].Health)
}

// A change made outside Kargo (docker service scale, docker service update --env-add) keeps
// Kargo's hash label: the plan still sees it and apply puts the stack's values back.
func TestApplyCorrectsDrift(t *testing.T) {
	a, e := applier(t)
	ctx := context.Background()
	_, err := a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)

	live, ok := e.Service("maps_api")
	require.True(t, ok)
	spec := live.Spec
	spec.Mode.Replicated.Replicas = ptrU(5)
	spec.TaskTemplate.ContainerSpec.Env = append(spec.TaskTemplate.ContainerSpec.Env, "EXTRA=1")
	_, err = e.ServiceUpdate(ctx, live.ID, client.ServiceUpdateOptions{Version: live.Version, Spec: spec})
	require.NoError(t, err)

	p, err := a.Plan(ctx, gisStack("info"))
	require.NoError(t, err)
	act, _ := p.Find(swarmx.KindService, "maps_api")
	assert.Equal(t, swarmx.Update, act.Op)
	assert.Equal(t, []string{"Mode.Replicated.Replicas", "TaskTemplate.ContainerSpec.Env.EXTRA"}, act.Changes)
	assert.Equal(t, "changed outside kargo", act.Note)

	e.Reset()
	_, err = a.Apply(ctx, gisStack("info"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"ServiceUpdate maps_api"}, methods(e.Mutations()))
	got, _ := e.Service("maps_api")
	assert.Equal(t, uint64(1), *got.Spec.Mode.Replicated.Replicas)
	assert.NotContains(t, got.Spec.TaskTemplate.ContainerSpec.Env, "EXTRA=1")
	p, err = a.Plan(ctx, gisStack("info"))
	require.NoError(t, err)
	assert.Empty(t, p.Changes())
}

func ptrU(v uint64) *uint64 { return &v }

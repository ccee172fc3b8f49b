package swarmx_test

import (
	"bytes"
	"context"
	"errors"
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

// The recording fake in internal/fakeengine stands in for the engine in these tests.
var (
	_ swarmx.Client     = (*fakeengine.Engine)(nil)
	_ swarmx.LogsClient = (*fakeengine.Engine)(nil)
)

// applier returns an Applier over a fresh fake engine, polling fast.
func applier(t *testing.T) (*swarmx.Applier, *fakeengine.Engine) {
	t.Helper()
	e := fakeengine.New()
	var progress bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("progress:\n%s", progress.String())
		}
	})
	return &swarmx.Applier{Client: e, Source: emptySource, Progress: &progress, Poll: time.Millisecond}, e
}

func TestFakeRecordsCalls(t *testing.T) {
	ctx := context.Background()
	e := fakeengine.New()
	_, err := e.NetworkCreate(ctx, "maps_default", client.NetworkCreateOptions{Labels: map[string]string{stack.LabelNamespace: "maps"}})
	require.NoError(t, err)
	_, err = e.NetworkCreate(ctx, "maps_default", client.NetworkCreateOptions{})
	assert.Error(t, err, "names are unique")
	nets, err := e.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", stack.LabelNamespace+"=maps")})
	require.NoError(t, err)
	assert.Len(t, nets.Items, 1)
	nets, err = e.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", stack.LabelNamespace+"=other")})
	require.NoError(t, err)
	assert.Empty(t, nets.Items)

	assert.Equal(t, []fakeengine.Call{
		{Method: "NetworkCreate", Name: "maps_default", Mutating: true},
		{Method: "NetworkCreate", Name: "maps_default", Mutating: true},
		{Method: "NetworkList"},
		{Method: "NetworkList"},
	}, e.Calls())
	assert.Len(t, e.Mutations(), 2)
	assert.Len(t, e.CallsTo("NetworkList"), 2)
	e.Reset()
	assert.Empty(t, e.Calls())
	assert.Equal(t, []string{"maps_default"}, e.NetworkNames())
}

func TestFakeRefusesWhatSwarmRefuses(t *testing.T) {
	ctx := context.Background()
	e := fakeengine.New()
	sec, err := e.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "pw"}, Data: []byte("x")}})
	require.NoError(t, err)
	spec := swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "s"}, TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{
		Image: "x", Secrets: []*swarm.SecretReference{{SecretName: "pw", SecretID: "wrong"}}}}}
	_, err = e.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
	assert.ErrorContains(t, err, "secret not found")

	spec.TaskTemplate.ContainerSpec.Secrets[0].SecretID = sec.ID
	created, err := e.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
	require.NoError(t, err)
	_, err = e.SecretRemove(ctx, sec.ID, client.SecretRemoveOptions{})
	assert.ErrorContains(t, err, "in use by service s")

	_, err = e.ServiceUpdate(ctx, created.ID, client.ServiceUpdateOptions{Version: swarm.Version{Index: 7}, Spec: spec})
	assert.ErrorContains(t, err, "out of sequence")

	e.Fail["TaskList"] = errors.New("engine down")
	_, err = e.TaskList(ctx, client.TaskListOptions{})
	assert.EqualError(t, err, "engine down")
}

func TestFakeTasksFollowTheSpec(t *testing.T) {
	ctx := context.Background()
	e := fakeengine.New()
	n := uint64(3)
	spec := swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "s"},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "x"}}}
	r, err := e.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
	require.NoError(t, err)
	tasks, err := e.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", r.ID)})
	require.NoError(t, err)
	require.Len(t, tasks.Items, 3)
	for _, task := range tasks.Items {
		assert.Equal(t, swarm.TaskStateRunning, task.Status.State)
		assert.Equal(t, "x", task.Spec.ContainerSpec.Image)
	}
	_, err = e.ServiceRemove(ctx, r.ID, client.ServiceRemoveOptions{})
	require.NoError(t, err)
	tasks, err = e.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", r.ID)})
	require.NoError(t, err)
	assert.Empty(t, tasks.Items)
}

func TestLogsThroughTheFake(t *testing.T) {
	a, e := applier(t)
	_, err := a.Apply(context.Background(), stack.New("maps", svc("a")), swarmx.ApplyOptions{})
	require.NoError(t, err)
	e.Logs["maps_a"] = "hello from a\n"
	var out bytes.Buffer
	require.NoError(t, swarmx.Logs(context.Background(), e, "maps", "a", false, "all", &out))
	assert.Equal(t, "hello from a\n", out.String())

	err = swarmx.Logs(context.Background(), e, "maps", "ghost", false, "all", &out)
	assert.ErrorContains(t, err, `service "ghost"`)
}

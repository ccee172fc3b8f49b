package swarmx_test

import (
	"context"
	"errors"
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

func node(id, host string, labels map[string]string) swarm.Node {
	return swarm.Node{ID: id, Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Labels: labels}},
		Description: swarm.NodeDescription{Hostname: host}}
}

func TestPlanNodesChangesOnlyTheLabelsKargoOwns(t *testing.T) {
	owned := swarmx.LabelNodeOwnedPrefix + "maps"
	nodes := []swarm.Node{
		// n1: "db" is Kargo's and stays, "old" was Kargo's and leaves, "rack" is someone else's.
		node("id1", "n1", map[string]string{"db": "true", "old": "x", "rack": "r1", owned: "db,old"}),
		// n2: "zone" was set by hand to another value: Kargo takes it over.
		node("id2", "n2", map[string]string{"zone": "b"}),
		// n3: nothing declared, nothing owned: untouched.
		node("id3", "n3", map[string]string{"rack": "r3"}),
		// n4: no longer declared, owned "edge": removed.
		node("id4", "n4", map[string]string{"edge": "true", owned: "edge"}),
	}
	want := []stack.NodeLabels{
		{Hostname: "n1", Labels: map[string]string{"db": "true", "rack": "r1"}},
		{Hostname: "n2", Labels: map[string]string{"zone": "a"}},
	}
	changes, err := swarmx.PlanNodes("maps", want, nodes)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]swarmx.NodeChange{}
	for _, c := range changes {
		got[c.Hostname] = c
	}
	if _, ok := got["n3"]; ok || len(changes) != 3 {
		t.Fatalf("changes on %v, want n1, n2, n4", changes)
	}
	n1 := got["n1"]
	if n1.Action.Op != swarmx.Update || len(n1.Set) != 0 || strings.Join(n1.Remove, ",") != "old" || n1.Owned != "db,rack" {
		t.Errorf("n1: %+v", n1)
	}
	if !strings.Contains(n1.Action.Note, "rack") {
		t.Errorf("n1: taking over rack not noted: %q", n1.Action.Note)
	}
	n2 := got["n2"]
	if n2.Set["zone"] != "a" || n2.Owned != "zone" || strings.Join(n2.Action.Changes, ",") != "~label zone=a (was b)" {
		t.Errorf("n2: %+v", n2)
	}
	n4 := got["n4"]
	if strings.Join(n4.Remove, ",") != "edge" || n4.Owned != "" || n4.Action.Op != swarmx.Update {
		t.Errorf("n4: %+v", n4)
	}

	// Applied: the same declaration against the result plans nothing.
	after := []swarm.Node{
		node("id1", "n1", map[string]string{"db": "true", "rack": "r1", owned: "db,rack"}),
		node("id2", "n2", map[string]string{"zone": "a", owned: "zone"}),
		node("id3", "n3", map[string]string{"rack": "r3"}),
		node("id4", "n4", map[string]string{}),
	}
	changes, err = swarmx.PlanNodes("maps", want, after)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if c.Action.Op != swarmx.Unchanged {
			t.Errorf("second plan changes %s: %v", c.Hostname, c.Action)
		}
	}
	// Another stack's labels are not this stack's.
	other, _ := swarmx.PlanNodes("other", nil, after)
	if len(other) != 0 {
		t.Errorf("stack other plans %v", other)
	}
}

func TestPlanNodesRejectsUnknownAndAmbiguousHostnames(t *testing.T) {
	nodes := []swarm.Node{node("a", "twin", nil), node("b", "twin", nil)}
	_, err := swarmx.PlanNodes("maps", []stack.NodeLabels{{Hostname: "twin"}, {Hostname: "ghost"}}, nodes)
	if err == nil || !strings.Contains(err.Error(), "nodes[ghost]: no node") || !strings.Contains(err.Error(), "nodes[twin]: 2 nodes") {
		t.Fatalf("err = %v", err)
	}
}

// nodeEngine adds nodes to the fake engine; NodeUpdate records whether any service existed.
type nodeEngine struct {
	*fakeengine.Engine
	nodes          []swarm.Node
	updates        int
	servicesBefore int
}

func (e *nodeEngine) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	return client.NodeListResult{Items: append([]swarm.Node(nil), e.nodes...)}, nil
}

func (e *nodeEngine) NodeInspect(_ context.Context, id string, _ client.NodeInspectOptions) (client.NodeInspectResult, error) {
	for _, n := range e.nodes {
		if n.ID == id {
			return client.NodeInspectResult{Node: n}, nil
		}
	}
	return client.NodeInspectResult{}, errors.New("no such node")
}

func (e *nodeEngine) NodeUpdate(_ context.Context, id string, o client.NodeUpdateOptions) (client.NodeUpdateResult, error) {
	e.updates++
	e.servicesBefore += len(e.Services())
	for i, n := range e.nodes {
		if n.ID == id {
			if n.Version.Index != o.Version.Index {
				return client.NodeUpdateResult{}, errors.New("update out of sequence")
			}
			n.Spec = o.Spec
			n.Version.Index++
			e.nodes[i] = n
			return client.NodeUpdateResult{}, nil
		}
	}
	return client.NodeUpdateResult{}, errors.New("no such node")
}

func TestApplyLabelsNodesBeforeServicesAndOnlyItsOwn(t *testing.T) {
	ctx := context.Background()
	e := &nodeEngine{Engine: fakeengine.New(), nodes: []swarm.Node{
		node("id1", "n1", map[string]string{"rack": "r1"}),
		node("id2", "n2", nil),
	}}
	a := &swarmx.Applier{Client: e, Source: emptySource, Poll: time.Millisecond}
	st := stack.New("maps", &stack.Service{Name: "db", Image: "example/db:1",
		Placement: stack.Placement{Constraints: []string{"node.labels.db==true"}}})
	st.Nodes = []stack.NodeLabels{{Hostname: "n1", Labels: map[string]string{"db": "true"}}}

	p, err := a.Plan(ctx, st)
	require.NoError(t, err)
	require.NotEmpty(t, p.Actions)
	assert.Equal(t, "~ node n1 (+label db=true)", p.Actions[0].String(), "node labels come first in the plan")
	assert.Zero(t, e.updates, "plan changes nothing")

	_, err = a.Apply(ctx, st, swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, e.updates)
	assert.Zero(t, e.servicesBefore, "the node was labelled before any service was created")
	assert.Equal(t, map[string]string{"rack": "r1", "db": "true", swarmx.LabelNodeOwnedPrefix + "maps": "db"}, e.nodes[0].Spec.Labels)

	_, err = a.Apply(ctx, st, swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, e.updates, "a second apply changes no node")

	// The labels leave the stack: Kargo removes its own, never rack.
	st.Nodes = nil
	p, err = a.Plan(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, "~ node n1 (-label db)", p.Actions[0].String())
	_, err = a.Apply(ctx, st, swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"rack": "r1"}, e.nodes[0].Spec.Labels)

	// An unknown hostname fails before any change.
	st.Nodes = []stack.NodeLabels{{Hostname: "ghost", Labels: map[string]string{"db": "true"}}}
	before := len(e.Mutations())
	_, err = a.Apply(ctx, st, swarmx.ApplyOptions{})
	require.ErrorContains(t, err, "nodes[ghost]")
	assert.Len(t, e.Mutations(), before)
	assert.Equal(t, 2, e.updates)
}

func TestApplyWithoutNodeCallsRejectsNodeLabels(t *testing.T) {
	a, _ := applier(t)
	st := stack.New("maps", &stack.Service{Name: "db", Image: "example/db:1"})
	st.Nodes = []stack.NodeLabels{{Hostname: "n1", Labels: map[string]string{"db": "true"}}}
	_, err := a.Apply(context.Background(), st, swarmx.ApplyOptions{})
	require.ErrorContains(t, err, "cannot list or label nodes")
}

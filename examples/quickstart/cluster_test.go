package main

import (
	"testing"

	"github.com/kalisio/kargo/kargotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The cluster layout needs no engine: it is placement and node labels on the same stack.
func TestOnClusterPinsPostGISAndTheGatewayAndSpreadsMapServer(t *testing.T) {
	st := OnCluster(Stack(Options{}), "kargo-n1")
	st.Registry = "10.199.0.1:5000"
	require.NoError(t, st.Validate())
	require.Len(t, st.Nodes, 1)
	assert.Equal(t, "kargo-n1", st.Nodes[0].Hostname)
	assert.Equal(t, map[string]string{DBLabel: "true", EdgeLabel: "true"}, st.Nodes[0].Labels)

	r := kargotest.Render(t, st)
	assert.Contains(t, r.Service("db").Spec().TaskTemplate.Placement.Constraints, "node.labels."+DBLabel+"==true")
	assert.Contains(t, r.Service("gateway").Spec().TaskTemplate.Placement.Constraints, "node.labels."+EdgeLabel+"==true")
	assert.Equal(t, uint64(1), r.Service("mapserver").Spec().TaskTemplate.Placement.MaxReplicas)
	assert.Equal(t, "10.199.0.1:5000/kargo/mapserver:8.0", r.Service("mapserver").Spec().TaskTemplate.ContainerSpec.Image)
}

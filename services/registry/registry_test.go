package registry_test

import (
	"testing"

	"github.com/kalisio/kargo/kargotest"
	"github.com/kalisio/kargo/services/registry"
	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistryRunsOnTheBuildingNodeWithItsLocalImage(t *testing.T) {
	st := stack.New("registry", registry.New(registry.Config{}))
	st.Registry = "10.199.0.1:5000"
	require.NoError(t, st.Validate())
	svc := kargotest.Render(t, st).Service("registry")
	spec := svc.Spec().TaskTemplate
	assert.Equal(t, "kargo/registry:2.8", spec.ContainerSpec.Image, "the registry cannot pull its own image from itself")
	assert.Equal(t, []string{"node.role==manager"}, spec.Placement.Constraints)
	require.Len(t, svc.Spec().EndpointSpec.Ports, 1)
	assert.Equal(t, uint32(5000), svc.Spec().EndpointSpec.Ports[0].PublishedPort)
	assert.Equal(t, "host", string(svc.Spec().EndpointSpec.Ports[0].PublishMode))
	assert.Equal(t, "any", string(spec.RestartPolicy.Condition), "a long-running service restarts whatever the exit code")
	require.Len(t, spec.ContainerSpec.Mounts, 1)
	assert.Equal(t, registry.DataDir, spec.ContainerSpec.Mounts[0].Target)

	pinned := registry.New(registry.Config{Node: "kargo-n1", Port: 5001})
	assert.Equal(t, []string{"node.hostname==kargo-n1"}, pinned.Placement.Constraints)
	assert.Equal(t, uint32(5001), pinned.Ports[0].Published)
}

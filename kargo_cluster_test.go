package kargo_test

import (
	"encoding/json"
	"testing"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistryFlagRefersToKargoImagesInTheRegistry(t *testing.T) {
	t.Setenv("KARGO_REGISTRY", "")
	st := stack.New("maps", &stack.Service{Name: "ms", Image: images.Ref("mapserver")},
		&stack.Service{Name: "up", Image: "postgis/postgis:15-3.3"})
	out, _, err := newCLI(t).run(st, "render", "--registry", "10.199.0.1:5000")
	require.NoError(t, err)
	var d swarmx.Desired
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	images := map[string]string{}
	for _, s := range d.Services {
		images[s.Logical] = s.Spec.TaskTemplate.ContainerSpec.Image
	}
	assert.Equal(t, "10.199.0.1:5000/kargo/mapserver:8.0", images["ms"])
	assert.Equal(t, "postgis/postgis:15-3.3", images["up"])
}

func TestRegistryFromEnvironment(t *testing.T) {
	t.Setenv("KARGO_REGISTRY", "10.199.0.1:5000")
	st := stack.New("maps", &stack.Service{Name: "ms", Image: images.Ref("mapserver")})
	out, _, err := newCLI(t).run(st, "render")
	require.NoError(t, err)
	assert.Contains(t, out, `"10.199.0.1:5000/kargo/mapserver:8.0"`)
}

func TestDrainNeedsAnEngineThatManagesNodes(t *testing.T) {
	c := newCLI(t)
	_, _, err := c.run(mapsStack(), "drain", "kargo-n2")
	require.ErrorContains(t, err, "cannot manage nodes")
	_, _, err = c.run(mapsStack(), "undrain")
	require.Error(t, err, "undrain needs a node")
}

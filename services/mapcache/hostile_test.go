package mapcache

import (
	"testing"

	"github.com/kalisio/kargo/internal/shelltest"
	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile layer and grid names reach the seeding job's shell script as text only: run
// through /bin/sh with stubs, nothing they hold runs and mapcache_seed gets each as one
// argument; Validate refuses them.
func TestHostileValuesRunNothing(t *testing.T) {
	for _, h := range shelltest.Hostile {
		layer := "a" + h
		c := New(Config{Source: wmsSource(), Layers: []string{layer}, Grids: []Grid{WGS84}, Seed: &Seed{MaxZoom: 2}})
		require.NotNil(t, c.Seed)
		r := shelltest.RunAll(t, c.Seed)
		require.Len(t, r, 1)
		assert.True(t, r[0].Called("mapcache_seed", layer), "%v %s", r[0].Calls, r[0].Output)
		assert.ErrorContains(t, stack.New("t", wmsSource(), c).Validate(), "config.layers[0]")

		c = New(Config{Source: wmsSource(), Layers: []string{"a"}, Grids: []Grid{Grid("g" + h)}, Seed: &Seed{MaxZoom: 2}})
		r = shelltest.RunAll(t, c.Seed)
		require.Len(t, r, 1)
		assert.True(t, r[0].Called("mapcache_seed", "g"+h), "%v %s", r[0].Calls, r[0].Output)
		assert.ErrorContains(t, stack.New("t", wmsSource(), c).Validate(), "config.grids")
	}
}

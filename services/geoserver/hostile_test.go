package geoserver_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/shelltest"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/geoserver"
	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
)

// GeoServer's builder writes no shell line: hostile values stay environment values or
// exec-form arguments, never reach a shell of Kargo's, and the ones that are names or
// paths are refused by Validate.
func TestHostileValuesReachNoShell(t *testing.T) {
	for _, h := range shelltest.Hostile {
		svc := geoserver.New(geoserver.Config{Common: builder.Common{Env: map[string]string{"X": h}}, AdminUser: "a" + h, Context: "c" + h, Extensions: []string{"e" + h},
			CommunityExtensions: []string{"x" + h}, JavaOpts: []string{"-D" + h}, PublicPrefix: "p" + h})
		assert.Empty(t, shelltest.Lines(svc), "value %q", h)
		if assert.NotNil(t, svc.Health) {
			assert.Equal(t, "CMD", svc.Health.Test[0], "exec form: no shell")
		}
		assert.Nil(t, svc.Command, "the image's entrypoint is kept")
		err := stack.New("t", svc).Validate()
		for _, p := range []string{"config.context", "config.extensions[0]", "config.communityExtensions[0]", "config.publicPrefix"} {
			assert.ErrorContains(t, err, "services[geoserver]."+p)
		}
	}
}

package registry_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/registry"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: the default and a fully configured registry render to exactly what they
// rendered to before (internal/golden).
func TestGolden(t *testing.T) {
	golden.Check(t, "registry-default", stack.New("golden", registry.New(registry.Config{})), swarmx.Source{})
	reg := registry.New(registry.Config{Common: builder.Common{Name: "images", Image: "kargo/registry:test"}, Port: 5001, Node: "kargo-n1", Volume: "images-store"})
	golden.Check(t, "registry-rich", stack.New("golden", reg), swarmx.Source{})
}

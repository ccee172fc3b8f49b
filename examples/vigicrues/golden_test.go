package main

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: the Vigicrues stacks render to exactly what they rendered to before
// (internal/golden).
func TestGolden(t *testing.T) {
	golden.Check(t, "vigicrues", Stack(Options{}), swarmx.Source{})
	golden.Check(t, "vigicrues-upstream", Upstream("vigicrues-upstream"), swarmx.Source{})
}

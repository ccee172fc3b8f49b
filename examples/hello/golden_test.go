package main

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: the hello stack renders to exactly what it rendered to before (internal/golden).
func TestGolden(t *testing.T) {
	golden.Check(t, "hello", Stack(), swarmx.Source{})
}

package main

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: the quickstart renders to exactly the specs and compose file it rendered to
// before (see internal/golden), alone, as the drills' copy, and in its cluster layout.
func TestGolden(t *testing.T) {
	golden.Check(t, "quickstart", Stack(Options{}), swarmx.Source{})
	golden.Check(t, "quickstart-drills", Stack(Options{Name: "drills", HTTPPort: 38080, HTTPSPort: 38443,
		MapServerEnv: map[string]string{"KARGO_DRILL": "1"}, DBPassword: "golden-password-0123456789"}), swarmx.Source{})
	golden.Check(t, "quickstart-cluster", OnCluster(Stack(Options{MapServerReplicas: 3}), "kargo-n1"), swarmx.Source{})
}

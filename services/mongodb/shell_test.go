package mongodb_test

import (
	"os/exec"
	"testing"

	"github.com/kalisio/kargo/services/mongodb"
	"github.com/stretchr/testify/assert"
)

// Both health commands parse as shell.
func TestHealthCommandSyntax(t *testing.T) {
	for _, m := range []*mongodb.Service{
		mongodb.New(mongodb.Config{}),
		mongodb.New(mongodb.Config{ReplicaSet: "rs0", RootUser: "o'brien"}),
	} {
		out, err := exec.Command("sh", "-n", "-c", m.Health.Test[1]).CombinedOutput()
		assert.NoError(t, err, string(out))
	}
}

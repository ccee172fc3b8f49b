package mongodb_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: the MongoDB service renders to exactly what it rendered to before
// (internal/golden), with the default config and with every field set.
func TestGolden(t *testing.T) {
	golden.Check(t, "mongodb-default", stack.New("golden", mongodb.New(mongodb.Config{})), swarmx.Source{})
	rich := mongodb.New(mongodb.Config{
		Common: builder.Common{
			Name:      "mongo",
			Image:     "example/mongo:4.4",
			Replicas:  1,
			Env:       map[string]string{"TZ": "UTC"},
			Placement: stack.Placement{Constraints: []string{"node.labels.mongodb==true"}},
			Resources: stack.Resources{CPULimit: 2, MemoryLimit: 2 * stack.GiB, CPUReservation: 0.5, MemoryReservation: 512 * stack.MiB},
			Networks:  []string{"back"},
		},
		Volume:   "mongo-volume",
		RootUser: "admin", RootPassword: stack.Secret{Name: "mongo-root", Data: []byte("golden-root-password")},
		ReplicaSet: "rs0", Members: []string{"mongo:27017", "mongo-2:27017"},
		KeyFile:     stack.Secret{Name: "mongo-key", Data: []byte("golden-key-file-0123456789")},
		CacheSizeGB: 0.5, Args: []string{"--quiet"},
	})
	golden.Check(t, "mongodb-rich", stack.New("golden", stack.Network{Name: "back"}, rich), swarmx.Source{})
	noauth := mongodb.New(mongodb.Config{Common: builder.Common{Name: "open"}, NoAuth: true, ReplicaSet: "rs1"})
	golden.Check(t, "mongodb-noauth", stack.New("golden", noauth), swarmx.Source{})
}

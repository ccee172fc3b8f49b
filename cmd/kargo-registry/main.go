// Command kargo-registry deploys the image registry of a multi-node Swarm (stack "registry":
// Debian's docker-registry 2.8 on the manager, port 5000 in host mode, images on a volume
// there). Deploy programs then push Kargo's images to it and refer to them there
// (stack.Stack.Registry, or KARGO_REGISTRY / --registry):
//
//	DOCKER_HOST=unix:///run/docker-k1.sock go run ./cmd/kargo-registry apply
//	DOCKER_HOST=unix:///run/docker-k1.sock KARGO_REGISTRY=10.199.0.1:5000 go run ./examples/quickstart apply
//
// scripts/local-cluster.sh runs it. The engines must trust the registry's address (see the
// README, Clusters).
package main

import (
	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/services/registry"
	"github.com/kalisio/kargo/stack"
)

func main() {
	kargo.Main(stack.New("registry", registry.New(registry.Config{})))
}

// Package registry builds an image registry service (the Docker distribution registry 2.8
// from Debian's docker-registry package) for a multi-node Swarm: Kargo pushes the images it
// builds there, and every node pulls them from it, so any node can start any task.
//
// The image is kargo/registry:2.8, built like Kargo's other images on the engine Kargo talks
// to. It cannot come from the registry it runs, so the service is pinned to that engine's node
// (by default the manager, see Config.Node): that node starts it from its local image. The
// images live on a named volume on that node. The registry speaks plain HTTP: the engines
// must trust its address (dockerd --insecure-registry with a private address, as
// scripts/local-cluster.sh does), or put it behind TLS.
package registry

import (
	"cmp"
	"slices"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/stack"
)

// Port is the registry's HTTP port in the image.
const Port uint32 = 5000

// DataDir is where the image keeps the registry's blobs; the volume is mounted there.
const DataDir = "/var/lib/docker-registry"

var defaults = builder.Defaults{
	Name:      "registry",
	Image:     images.Ref("registry"),
	Resources: stack.Resources{CPULimit: 1, MemoryLimit: 256 * stack.MiB, MemoryReservation: 32 * stack.MiB},
}

// Config describes a registry service. Common.Image defaults to kargo/registry:2.8; the
// service's placement gets the constraint that pins it to Node.
type Config struct {
	builder.Common
	// Port published on the node, in host mode (default 5000). Engines push to and pull from
	// <node address>:<Port>.
	Port uint32
	// Node is the hostname of the node that runs the registry and keeps its volume: the node
	// of the engine Kargo builds on. Empty: the Swarm manager (a one-manager cluster).
	Node string
	// Volume holding the images (default "<name>-data").
	Volume string
}

// New returns the registry service.
func New(cfg Config) *stack.Service {
	svc := builder.Base(cfg.Common, defaults)
	vol := cmp.Or(cfg.Volume, svc.Name+"-data")
	constraint := "node.role==manager"
	if cfg.Node != "" {
		constraint = "node.hostname==" + cfg.Node
	}
	svc.Placement.Constraints = append(slices.Clone(svc.Placement.Constraints), constraint)
	svc.Ports = []stack.Port{{Target: Port, Published: cmp.Or(cfg.Port, Port), Mode: stack.HostPort}}
	svc.Mounts = []stack.Mount{{Type: stack.VolumeMount, Source: vol, Target: DataDir}}
	svc.Declares.Volumes = []stack.Volume{{Name: vol}}
	// One registry on one volume: stop the old task before the new one opens it.
	svc.Update = &stack.UpdatePolicy{Order: stack.StopFirst}
	// Back sooner than stack's default delay: every node pulls its images from here.
	svc.Restart = &stack.RestartPolicy{Condition: "any", Delay: 2 * time.Second}
	svc.Health = &stack.Health{
		Test:     []string{"CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:5000/v2/"},
		Interval: 5 * time.Second, Timeout: 3 * time.Second, Retries: 3, StartPeriod: 10 * time.Second,
	}
	return svc
}

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
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/stack"
)

// Port is the registry's HTTP port in the image.
const Port uint32 = 5000

// DataDir is where the image keeps the registry's blobs; the volume is mounted there.
const DataDir = "/var/lib/docker-registry"

// DefaultImage returns the registry image Kargo builds, kargo/registry:2.8.
func DefaultImage() string { return images.Ref("registry") }

// Config describes a registry service.
type Config struct {
	// Name of the service (default "registry").
	Name string
	// Image defaults to kargo/registry:2.8.
	Image string
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
	name := cmp.Or(cfg.Name, "registry")
	vol := cmp.Or(cfg.Volume, name+"-data")
	constraint := "node.role==manager"
	if cfg.Node != "" {
		constraint = "node.hostname==" + cfg.Node
	}
	return &stack.Service{
		Name:         name,
		Image:        cmp.Or(cfg.Image, DefaultImage()),
		Replicas:     stack.Ptr(uint64(1)),
		EndpointMode: stack.DNSRR,
		Ports:        []stack.Port{{Target: Port, Published: cmp.Or(cfg.Port, Port), Mode: stack.HostPort}},
		Placement:    stack.Placement{Constraints: []string{constraint}},
		Mounts:       []stack.Mount{{Type: stack.VolumeMount, Source: vol, Target: DataDir}},
		Declares:     stack.Objects{Volumes: []stack.Volume{{Name: vol}}},
		Resources:    stack.Resources{CPULimit: 1, MemoryLimit: 256 * stack.MiB, MemoryReservation: 32 * stack.MiB},
		// One registry on one volume: stop the old task before the new one opens it.
		Update:  &stack.UpdatePolicy{Order: stack.StopFirst},
		Restart: &stack.RestartPolicy{Condition: "any", Delay: 2 * time.Second},
		Health: &stack.Health{
			Test:     []string{"CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:5000/v2/"},
			Interval: 5 * time.Second, Timeout: 3 * time.Second, Retries: 3, StartPeriod: 10 * time.Second,
		},
	}
}

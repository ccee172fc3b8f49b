package images

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/client"
)

// InRegistry returns the reference the services of a stack use for ref when Kargo's images
// are pushed to registry (a host[:port] every node can pull from, e.g. "10.199.0.1:5000"):
// RegistryRef of ref, which is built when Lookup knows it.
func InRegistry(registry, ref string) string {
	_, built := Lookup(ref)
	return RegistryRef(registry, ref, built)
}

// RegistryRef returns the reference the services of a stack use for ref when Kargo's images
// are pushed to registry: <registry>/<ref> when built (ref is an image Kargo builds), ref
// itself for any other image and when registry is empty. The registry's own image stays
// local: a registry cannot serve the image it runs from (see package services/registry).
func RegistryRef(registry, ref string, built bool) string {
	registry = strings.TrimSuffix(registry, "/")
	if registry == "" || ref == Ref("registry") || !built {
		return ref
	}
	return registry + "/" + ref
}

// Local returns the Kargo image a registry reference stands for and the registry:
// "10.199.0.1:5000/kargo/mapserver:8.0" gives "kargo/mapserver:8.0", "10.199.0.1:5000". ok is
// false when ref is not a Kargo image behind a registry host.
func Local(ref string) (local, registry string, ok bool) {
	host, rest, found := strings.Cut(ref, "/")
	if !found || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		return "", "", false
	}
	if _, known := Lookup(rest); !known {
		return "", "", false
	}
	return rest, host, true
}

// Pusher is what the Builder needs of the engine to push images to a registry;
// *client.Client satisfies it.
type Pusher interface {
	// ImageTag gives an image another reference.
	ImageTag(ctx context.Context, options client.ImageTagOptions) (client.ImageTagResult, error)
	// ImagePush pushes an image to its registry.
	ImagePush(ctx context.Context, image string, options client.ImagePushOptions) (client.ImagePushResponse, error)
}

var _ Pusher = (*client.Client)(nil)

// push tags the local image as ref (its registry reference) and pushes it. A push of layers
// the registry already has only checks them, so pushing on every apply is cheap and repairs a
// registry that lost its data.
func (b *Builder) push(ctx context.Context, local, ref, registry string, progress io.Writer) error {
	p, ok := b.Client.(Pusher)
	if !ok {
		return fmt.Errorf("image %s: this engine client cannot push images", ref)
	}
	if _, err := p.ImageTag(ctx, client.ImageTagOptions{Source: local, Target: ref}); err != nil {
		return fmt.Errorf("image %s: tag %s: %w", ref, local, err)
	}
	fmt.Fprintf(progress, "kargo: image %s: push\n", ref)
	res, err := p.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: "e30="}) // "{}": no credentials
	if err == nil {
		err = res.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("image %s: push to registry %s (is it running, and does the engine trust it? see README, Clusters): %w", ref, registry, err)
	}
	return nil
}

package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// LabelContextHash is the label of a built image holding the hash of its build context.
const LabelContextHash = "io.kargo.context-hash"

// Client is what the Builder needs of the engine client; *client.Client satisfies it.
type Client interface {
	// ImageInspect returns an image by ID or reference.
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	// ImageBuild builds an image from a tar build context.
	ImageBuild(ctx context.Context, buildContext io.Reader, options client.ImageBuildOptions) (client.ImageBuildResult, error)
}

var _ Client = (*client.Client)(nil)

// Builder builds Kargo's images on an engine. It implements swarmx.ImageEnsurer.
type Builder struct {
	// Client talks to the Docker Engine that builds and keeps the images.
	Client Client
}

// EnsureImages builds every image of refs that Kargo knows and that is missing on the engine
// or was built from another context. A Kargo image behind a registry host (see InRegistry) is
// built locally under its Kargo reference, then tagged and pushed to that registry. Other
// references are left to the engine (a missing upstream image is reported by Swarm when its
// tasks cannot start).
func (b *Builder) EnsureImages(ctx context.Context, refs []string, progress io.Writer) error {
	return b.each(ctx, refs, false, progress)
}

// Build builds the image of ref (a Kargo image, or one behind a registry host, which is then
// pushed), even when it exists.
func (b *Builder) Build(ctx context.Context, ref string, progress io.Writer) error {
	if _, ok := Lookup(ref); !ok {
		if _, _, ok := Local(ref); !ok {
			return fmt.Errorf("image %s: not a Kargo image (known: %s)", ref, strings.Join(Known(), ", "))
		}
	}
	return b.each(ctx, []string{ref}, true, progress)
}

func (b *Builder) each(ctx context.Context, refs []string, force bool, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	for _, ref := range refs {
		if img, ok := Lookup(ref); ok {
			if err := b.ensure(ctx, img, force, progress); err != nil {
				return err
			}
			continue
		}
		local, registry, ok := Local(ref)
		if !ok {
			continue
		}
		img, _ := Lookup(local)
		if err := b.ensure(ctx, img, force, progress); err != nil {
			return err
		}
		if err := b.push(ctx, local, ref, registry, progress); err != nil {
			return err
		}
	}
	return nil
}

func (b *Builder) ensure(ctx context.Context, img Image, force bool, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	files, err := img.Context(ctx)
	if err != nil {
		return fmt.Errorf("image %s: build context: %w", img.Ref, err)
	}
	if _, ok := files["Dockerfile"]; !ok {
		return fmt.Errorf("image %s: build context has no Dockerfile", img.Ref)
	}
	tarball, hash, err := Tar(files)
	if err != nil {
		return fmt.Errorf("image %s: build context: %w", img.Ref, err)
	}
	if !force {
		insp, err := b.Client.ImageInspect(ctx, img.Ref)
		switch {
		case err == nil && insp.Config != nil && insp.Config.Labels[LabelContextHash] == hash:
			return nil
		case err != nil && !errdefs.IsNotFound(err):
			return fmt.Errorf("image %s: inspect: %w", img.Ref, err)
		}
	}
	fmt.Fprintf(progress, "kargo: image %s: build\n", img.Ref)
	res, err := b.Client.ImageBuild(ctx, bytes.NewReader(tarball), client.ImageBuildOptions{
		Tags: []string{img.Ref}, Remove: true, ForceRemove: true,
		Labels: map[string]string{LabelContextHash: hash},
	})
	if err != nil {
		return fmt.Errorf("image %s: build: %w", img.Ref, err)
	}
	defer res.Body.Close()
	if err := readBuildOutput(res.Body, progress); err != nil {
		return fmt.Errorf("image %s: build: %w", img.Ref, err)
	}
	fmt.Fprintf(progress, "kargo: image %s: built\n", img.Ref)
	return nil
}

// readBuildOutput decodes the engine's JSON build stream, keeps the last lines for the error
// message and returns the build error, if any.
func readBuildOutput(r io.Reader, progress io.Writer) error {
	dec := json.NewDecoder(r)
	var tail []string
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if msg.Stream != "" {
			for _, l := range strings.Split(strings.TrimRight(msg.Stream, "\n"), "\n") {
				tail = append(tail, l)
				if len(tail) > 15 {
					tail = tail[1:]
				}
			}
		}
		if msg.Error != "" {
			return fmt.Errorf("%s\n%s", msg.Error, strings.Join(tail, "\n"))
		}
	}
}

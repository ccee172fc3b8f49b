package images_test

import (
	"context"
	"errors"
	"io"
	"iter"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/kalisio/kargo/images"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// engine is a fake engine that records builds, tags and pushes.
type engine struct {
	calls   []string
	pushErr string
}

func (e *engine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	return client.ImageInspectResult{}, errdefs.ErrNotFound
}

func (e *engine) ImageBuild(_ context.Context, _ io.Reader, o client.ImageBuildOptions) (client.ImageBuildResult, error) {
	e.calls = append(e.calls, "build "+strings.Join(o.Tags, ","))
	return client.ImageBuildResult{Body: io.NopCloser(strings.NewReader(`{"stream":"ok\n"}`))}, nil
}

func (e *engine) ImageTag(_ context.Context, o client.ImageTagOptions) (client.ImageTagResult, error) {
	e.calls = append(e.calls, "tag "+o.Source+" "+o.Target)
	return client.ImageTagResult{}, nil
}

func (e *engine) ImagePush(_ context.Context, ref string, _ client.ImagePushOptions) (client.ImagePushResponse, error) {
	e.calls = append(e.calls, "push "+ref)
	return pushStream{err: e.pushErr}, nil
}

type pushStream struct{ err string }

func (pushStream) Read([]byte) (int, error) { return 0, io.EOF }
func (pushStream) Close() error             { return nil }
func (pushStream) JSONMessages(context.Context) iter.Seq2[jsonstream.Message, error] {
	return func(func(jsonstream.Message, error) bool) {}
}
func (p pushStream) Wait(context.Context) error {
	if p.err != "" {
		return errors.New(p.err)
	}
	return nil
}

func TestEnsureImagesBuildsLocallyThenPushesToTheRegistry(t *testing.T) {
	gdal := images.Ref("gdal")
	e := &engine{}
	b := &images.Builder{Client: e}
	err := b.EnsureImages(context.Background(), []string{"10.199.0.1:5000/" + gdal, "postgis/postgis:15-3.3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"build " + gdal, "tag " + gdal + " 10.199.0.1:5000/" + gdal, "push 10.199.0.1:5000/" + gdal}
	if strings.Join(e.calls, "|") != strings.Join(want, "|") {
		t.Fatalf("calls %q, want %q", e.calls, want)
	}

	e = &engine{pushErr: "connection refused"}
	err = (&images.Builder{Client: e}).EnsureImages(context.Background(), []string{"10.199.0.1:5000/" + gdal}, nil)
	if err == nil || !strings.Contains(err.Error(), "registry 10.199.0.1:5000") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("push failure: %v", err)
	}
}

package swarmx_test

import (
	"errors"
	"testing"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// The labels the Applier relies on cannot be set by a stack (Validate rejects them), so no
// object can leave its namespace or fake its hash.
func TestBookkeepingLabelsAreReserved(t *testing.T) {
	for _, k := range []string{stack.LabelNamespace, stack.LabelHash, stack.LabelLastApplied, stack.LabelName,
		stack.LabelSchedule, stack.LabelGenerated, stack.LabelImageVersion, stack.LabelRunPrefix + "last"} {
		if !stack.ReservedLabel(k) {
			t.Errorf("label %q is not reserved by stack.Validate", k)
		}
	}
}

// Services of a Kargo image carry the version of its build context, so a changed Dockerfile
// changes their spec (and apply rolls them out after rebuilding the image).
func TestKargoImagesCarryTheirContextVersion(t *testing.T) {
	ref := images.Ref("postgis")
	version := images.Version(ref)
	if len(version) < 16 {
		t.Fatalf("embedded image %s has no version %q", ref, version)
	}
	d, err := swarmx.Render(stack.New("maps",
		&stack.Service{Name: "db", Image: ref},
		&stack.Service{Name: "other", Image: "postgis/postgis:15-3.3"}), swarmx.Source{})
	if err != nil {
		t.Fatal(err)
	}
	db, _ := d.Service("db")
	if got := db.Spec.TaskTemplate.ContainerSpec.Labels[stack.LabelImageVersion]; got != version[:16] {
		t.Errorf("db image version label = %q, want %q", got, version[:16])
	}
	other, _ := d.Service("other")
	if _, ok := other.Spec.TaskTemplate.ContainerSpec.Labels[stack.LabelImageVersion]; ok {
		t.Errorf("an upstream image got a Kargo image version label")
	}

	// Another context for the same reference gives another spec hash.
	h1 := hashOf(t, "kargo/test-version:1", "aaaaaaaaaaaaaaaa1")
	if h2 := hashOf(t, "kargo/test-version:1", "bbbbbbbbbbbbbbbb2"); h1 == h2 {
		t.Errorf("a changed build context left the service spec hash unchanged")
	}
}

// Render learns which images Kargo builds from its Source, not from the images package's
// registry: the Source decides the version label and the copy pulled from the stack's registry.
func TestRenderTakesKargoImagesFromItsSource(t *testing.T) {
	src := swarmx.Source{Image: func(ref string) (images.Image, bool) {
		if ref == "example/built:1" {
			return images.Image{Ref: ref, Version: "0123456789abcdef0123"}, true
		}
		return images.Image{}, false
	}}
	st := stack.New("maps", &stack.Service{Name: "built", Image: "example/built:1"},
		&stack.Service{Name: "db", Image: images.Ref("postgis")})
	st.Registry = "10.0.0.1:5000"
	d, err := swarmx.Render(st, src)
	if err != nil {
		t.Fatal(err)
	}
	built, _ := d.Service("built")
	cs := built.Spec.TaskTemplate.ContainerSpec
	if cs.Image != "10.0.0.1:5000/example/built:1" || cs.Labels[stack.LabelImageVersion] != "0123456789abcdef" {
		t.Errorf("built image: %s, version label %q", cs.Image, cs.Labels[stack.LabelImageVersion])
	}
	db, _ := d.Service("db")
	cs = db.Spec.TaskTemplate.ContainerSpec
	if cs.Image != images.Ref("postgis") || cs.Labels[stack.LabelImageVersion] != "" {
		t.Errorf("an image the Source does not know: %s, version label %q", cs.Image, cs.Labels[stack.LabelImageVersion])
	}
}

func hashOf(t *testing.T, img, version string) string {
	t.Helper()
	src := swarmx.Source{Image: func(ref string) (images.Image, bool) {
		return images.Image{Ref: ref, Version: version}, ref == img
	}}
	d, err := swarmx.Render(stack.New("maps", &stack.Service{Name: "svc", Image: img}), src)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := d.Service("svc")
	return s.Hash
}

// Content Swarm would refuse is refused by Render, before any object is created.
func TestRenderRefusesOversizedContent(t *testing.T) {
	big := make([]byte, swarmx.MaxConfigSize+1)
	_, err := swarmx.Render(stack.New("maps", stack.Config{Name: "huge", Data: big}), swarmx.Source{})
	var re *swarmx.RenderError
	if !errors.As(err, &re) || re.Path != "configs[huge]" {
		t.Fatalf("err = %v, want a RenderError at configs[huge]", err)
	}
	_, err = swarmx.Render(stack.New("maps", stack.Secret{Name: "huge", Data: big[:swarmx.MaxSecretSize+1]}), swarmx.Source{})
	if !errors.As(err, &re) || re.Path != "secrets[huge]" {
		t.Fatalf("err = %v, want a RenderError at secrets[huge]", err)
	}
	if _, err := swarmx.Render(stack.New("maps", stack.Config{Name: "ok", Data: big[:swarmx.MaxConfigSize]}), swarmx.Source{}); err != nil {
		t.Fatalf("a config at the limit: %v", err)
	}
}

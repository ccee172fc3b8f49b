package swarmx_test

import (
	"testing"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

func TestRenderRefersToKargoImagesInTheRegistry(t *testing.T) {
	st := stack.New("maps",
		&stack.Service{Name: "ms", Image: images.Ref("mapserver")},
		&stack.Service{Name: "up", Image: "postgis/postgis:15-3.3"},
		&stack.Service{Name: "registry", Image: images.Ref("registry")})
	st.Registry = "10.199.0.1:5000"
	d, err := swarmx.Render(st, swarmx.Source{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"maps_ms":       "10.199.0.1:5000/" + images.Ref("mapserver"),
		"maps_up":       "postgis/postgis:15-3.3",
		"maps_registry": images.Ref("registry"),
	}
	for _, s := range d.Services {
		cs := s.Spec.TaskTemplate.ContainerSpec
		if cs.Image != want[s.Name] {
			t.Errorf("%s: image %q, want %q", s.Name, cs.Image, want[s.Name])
		}
		if s.Name == "maps_ms" && cs.Labels[stack.LabelImageVersion] == "" {
			t.Errorf("%s: the image version label is lost behind the registry", s.Name)
		}
	}
}

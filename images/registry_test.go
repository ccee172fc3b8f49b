package images_test

import (
	"testing"

	"github.com/kalisio/kargo/images"
)

func TestInRegistryPrefixesOnlyKargoImages(t *testing.T) {
	ms := images.Ref("mapserver")
	cases := []struct{ registry, ref, want string }{
		{"", ms, ms},
		{"10.199.0.1:5000", ms, "10.199.0.1:5000/" + ms},
		{"10.199.0.1:5000/", ms, "10.199.0.1:5000/" + ms},
		{"10.199.0.1:5000", "postgis/postgis:15-3.3", "postgis/postgis:15-3.3"},
		// The registry cannot serve the image it runs from.
		{"10.199.0.1:5000", images.Ref("registry"), images.Ref("registry")},
	}
	for _, c := range cases {
		if got := images.InRegistry(c.registry, c.ref); got != c.want {
			t.Errorf("InRegistry(%q, %q) = %q, want %q", c.registry, c.ref, got, c.want)
		}
	}
}

// RegistryRef decides on what it is told, not on the images registry.
func TestRegistryRefTakesWhetherKargoBuildsTheImage(t *testing.T) {
	if got := images.RegistryRef("10.199.0.1:5000", "example/app:1", true); got != "10.199.0.1:5000/example/app:1" {
		t.Errorf("a built image: %q", got)
	}
	if ms := images.Ref("mapserver"); images.RegistryRef("10.199.0.1:5000", ms, false) != ms {
		t.Errorf("an image said not built was moved to the registry")
	}
	if reg := images.Ref("registry"); images.RegistryRef("10.199.0.1:5000", reg, true) != reg {
		t.Errorf("the registry's own image was moved to the registry")
	}
}

func TestLocalFindsTheKargoImageBehindARegistry(t *testing.T) {
	ms := images.Ref("mapserver")
	local, reg, ok := images.Local("10.199.0.1:5000/" + ms)
	if !ok || local != ms || reg != "10.199.0.1:5000" {
		t.Fatalf("Local = %q, %q, %v", local, reg, ok)
	}
	for _, ref := range []string{ms, "10.199.0.1:5000/postgis/postgis:15", "example/" + ms, "localhost/nothing:1"} {
		if _, _, ok := images.Local(ref); ok {
			t.Errorf("Local(%q) found a Kargo image", ref)
		}
	}
	if _, _, ok := images.Local("localhost/" + ms); !ok {
		t.Errorf("Local(localhost/%s) did not find the Kargo image", ms)
	}
}

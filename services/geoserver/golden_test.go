package geoserver_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/geoserver"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: GeoServer renders to exactly what it rendered to before (internal/golden), with
// the default config and with every field set.
func TestGolden(t *testing.T) {
	golden.Check(t, "geoserver-default", stack.New("golden", geoserver.New(geoserver.Config{})), swarmx.Source{})
	rich := geoserver.New(geoserver.Config{
		Common: builder.Common{
			Name:      "gs",
			Image:     "example/geoserver:2.28",
			Replicas:  2,
			Env:       map[string]string{"TZ": "UTC"},
			Placement: stack.Placement{Constraints: []string{"node.role==worker"}},
			Resources: stack.Resources{CPULimit: 4, MemoryLimit: 4 * stack.GiB, CPUReservation: 1, MemoryReservation: 2 * stack.GiB},
			Networks:  []string{"back"},
		},
		Volume: "gs-volume", AdminUser: "boss",
		AdminPassword:       stack.Secret{Name: "gs-admin", Data: []byte("golden-admin-password")},
		Extensions:          []string{"wps", "ysld"},
		CommunityExtensions: []string{"ogcapi-features"},
		CORS: &geoserver.CORS{AllowedOrigins: "https://maps.example.org", AllowedMethods: "GET,OPTIONS",
			AllowedHeaders: "Authorization", AllowCredentials: true},
		DemoData: true, Context: "ows", RootRedirect: true, JavaOpts: []string{"-XX:+UseG1GC"},
		PublicPrefix: "/geo", PublishedPort: 18080,
	})
	golden.Check(t, "geoserver-rich", stack.New("golden", stack.Network{Name: "back"}, rich), swarmx.Source{})
}

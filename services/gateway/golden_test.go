package gateway_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// goldenHash is a fixed bcrypt hash, so the basic-auth secret renders the same every time.
const goldenHash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"

// TestGolden: the gateway renders to exactly what it rendered to before (internal/golden),
// with the default config and with every field set, for a certificate given by path, given
// as data, and issued by Caddy's local CA.
func TestGolden(t *testing.T) {
	web := &stack.Service{Name: "web", Image: "example/web:1",
		Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 8080, Path: "/wms", Public: "/wms", Layers: []string{"roads"}}}}
	golden.Check(t, "gateway-default", stack.New("golden", web, gateway.New(gateway.Config{Routes: gateway.OGC(web)})), swarmx.Source{})

	rich := gateway.New(gateway.Config{
		Common: builder.Common{
			Name:      "edge",
			Image:     "example/gateway:2.6",
			Replicas:  2,
			Resources: stack.Resources{CPULimit: 2, MemoryLimit: 512 * stack.MiB, CPUReservation: 0.1, MemoryReservation: 64 * stack.MiB},
			Placement: stack.Placement{Constraints: []string{"node.labels.edge==true"}},
		},
		HTTPPort: 8080, HTTPSPort: 8443, HTTP: gateway.HTTPRedirect,
		Routes: []gateway.Route{
			{Prefix: "/wms", Service: web, Port: 8080, Path: "/?map=/etc/roads.map"},
			{Prefix: "/api", Service: web, Port: 8080, StripPrefix: true},
			{Prefix: "/", Service: web, Port: 8080},
		},
		TLS:       &gateway.TLS{CertFile: "testdata/golden-cert.pem", KeyFile: "testdata/golden-key.pem"},
		BasicAuth: &gateway.BasicAuth{User: "admin", PasswordHash: goldenHash, Realm: "maps"},
		CORS: &gateway.CORS{Origins: []string{"https://maps.example.org"}, Methods: []string{"GET"},
			Headers: []string{"Authorization"}},
		AccessLog: true, UpstreamHeader: true, Metrics: true,
	})
	golden.Check(t, "gateway-rich", stack.New("golden", web, rich), swarmx.Source{})

	data := gateway.New(gateway.Config{HTTP: gateway.HTTPOff,
		TLS:    &gateway.TLS{Cert: []byte("golden-cert"), Key: []byte("golden-key"), ServerName: "maps.example.org"},
		Routes: gateway.OGC(web)})
	golden.Check(t, "gateway-certdata", stack.New("golden", web, data), swarmx.Source{})

	internal := gateway.New(gateway.Config{HTTPSPort: 8443, DataVolume: "gw-ca",
		TLS:    &gateway.TLS{Hosts: []string{"maps.example.org", "10.0.0.1"}, ServerName: "maps.example.org"},
		Routes: gateway.OGC(web)})
	golden.Check(t, "gateway-internal", stack.New("golden", web, internal), swarmx.Source{})
}

package gateway_test

import (
	"fmt"

	"github.com/kalisio/kargo/services/gateway"
	"github.com/kalisio/kargo/stack"
)

// The gateway routes every public OGC endpoint of the services given to gateway.OGC, plus
// extra routes, over HTTP and HTTPS.
func ExampleNew() {
	ms := &stack.Service{Name: "mapserver", Image: "kargo/mapserver:8.0", Endpoints: []stack.Endpoint{
		{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms"},
		{Kind: stack.WFS, Port: 80, Path: "/wfs", Public: "/wfs"},
	}}
	api := &stack.Service{Name: "api", Image: "example/api:1"}
	gw := gateway.New(gateway.Config{
		HTTPPort:  8080,
		Routes:    append(gateway.OGC(ms), gateway.Route{Prefix: "/api", Service: api, Port: 3000, StripPrefix: true}),
		CORS:      &gateway.CORS{},
		AccessLog: true,
	})
	st := stack.New("maps", ms, api, gw)
	fmt.Println(st.Validate())
	fmt.Println(gw.DependsOn)
	fmt.Println(gw.Ports[0].Published, gw.Ports[0].Target, gw.Ports[0].Mode)
	// Output:
	// <nil>
	// [mapserver api]
	// 8080 80 host
}

package ogc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// Ready returns a readiness check for swarmx.Applier.Ready: for every OGC endpoint of a
// service (WMS, WFS, WCS, WMTS) whose port is published in host mode, GetCapabilities at
// http://<host>:<published port><path> must answer and list the endpoint's Layers. Endpoints
// that are not published are left to the service's health check, which runs inside the Swarm
// on every node. host is the node address to probe, e.g. "127.0.0.1".
func Ready(host string, c *Client) func(ctx context.Context, s swarmx.Service) error {
	if c == nil {
		c = &Client{HTTP: &http.Client{Timeout: 10 * time.Second}}
	}
	return func(ctx context.Context, s swarmx.Service) error {
		var errs []error
		for _, ep := range s.Endpoints {
			svc, ok := serviceOf(ep.Kind)
			if !ok {
				continue
			}
			port := publishedPort(s, ep.Port)
			if port == 0 {
				continue
			}
			base := fmt.Sprintf("http://%s:%d%s", host, port, ep.Path)
			if err := c.Check(ctx, svc, base, ep.Layers); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

func serviceOf(k stack.EndpointKind) (Service, bool) {
	switch k {
	case stack.WMS:
		return WMS, true
	case stack.WFS:
		return WFS, true
	case stack.WCS:
		return WCS, true
	case stack.WMTS:
		return WMTS, true
	}
	return "", false
}

func publishedPort(s swarmx.Service, target uint32) uint32 {
	if s.Spec.EndpointSpec == nil {
		return 0
	}
	for _, p := range s.Spec.EndpointSpec.Ports {
		if p.TargetPort == target && p.PublishMode == "host" && p.PublishedPort != 0 {
			return p.PublishedPort
		}
	}
	return 0
}

package ogc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
)

// Ready returns a readiness check for swarmx.Applier.Ready: for every OGC endpoint of a
// service (WMS, WFS, WCS, WMTS; OGC API – Features; XYZ) whose port is published in host
// mode, the endpoint at http://<host>:<published port><path> must pass CheckEndpoint
// (GetCapabilities listing the endpoint's Layers, collections, a tile). Endpoints
// that are not published are left to the service's health check, which runs inside the Swarm
// on every node. host is the node address to probe, e.g. "127.0.0.1".
func Ready(host string, c *Client) func(ctx context.Context, s swarmx.Service) error {
	if c == nil {
		c = &Client{HTTP: &http.Client{Timeout: 10 * time.Second}}
	}
	return func(ctx context.Context, s swarmx.Service) error {
		var errs []error
		for _, ep := range s.Endpoints {
			port := publishedPort(s, ep.Port)
			if port == 0 {
				continue
			}
			base := fmt.Sprintf("http://%s:%d%s", host, port, ep.Path)
			if err := c.CheckEndpoint(ctx, ep.Kind, base, ep.Layers); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

// CheckEndpoint checks an endpoint of a kind at base: WMS, WFS, WCS and WMTS capabilities
// must list layers; an OGC API – Features must answer its landing page and list layers as
// collections; an XYZ endpoint must serve tile 0/0/0 of each of layers, given as
// "<tileset>@<grid>.<ext>" (a vector tile must decode). Other kinds are not checked.
func (c *Client) CheckEndpoint(ctx context.Context, kind stack.EndpointKind, base string, layers []string) error {
	if svc, ok := serviceOf(kind); ok {
		return c.Check(ctx, svc, base, layers)
	}
	switch kind {
	case stack.OGCAPIFeatures:
		return c.CheckFeatures(ctx, base, layers)
	case stack.XYZ:
		var errs []error
		for _, l := range layers {
			name, ext, ok := strings.Cut(l, ".")
			tileset, grid, ok2 := strings.Cut(name, "@")
			if !ok || !ok2 {
				errs = append(errs, fmt.Errorf("XYZ %s: %q is not <tileset>@<grid>.<ext>", base, l))
				continue
			}
			if err := c.CheckTile(ctx, XYZTileURL(base, tileset, grid, 0, 0, 0, ext)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return nil
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
		if p.TargetPort == target && p.PublishMode == swarm.PortConfigPublishModeHost && p.PublishedPort != 0 {
			return p.PublishedPort
		}
	}
	return 0
}

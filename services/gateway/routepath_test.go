package gateway

import (
	"strings"
	"testing"

	"github.com/kalisio/kargo/stack"
)

// A route path goes into the Caddyfile as one token: every character that would split it
// (any Unicode space, \v and \f included), end the line or open a quote is refused.
func TestRoutePathRefusesTokenBreakers(t *testing.T) {
	ms := backend("mapserver", stack.Endpoint{Kind: stack.WMS, Port: 80, Path: "/wms", Public: "/wms"})
	for _, bad := range []string{
		"/a b", "/a\tb", "/a\nb", "/a\rb", "/a\vb", "/a\fb", "/a\u00a0b", "/a\u0085b", "/a\u2028b", "/a\u2029b",
		"/a\u3000b", "/a\u1680b", "/a\x00b", "/a\x7fb", "/a{b", "/a}b", `/a"b`, "/a`b", `/a\b`, "/a#b", "/a\xffb", "wms",
	} {
		cfg := Config{Routes: []Route{{Prefix: "/x", Service: ms, Port: 80, Path: bad}}}
		err := stack.New("gw", ms, New(cfg)).Validate()
		ve, ok := err.(*stack.ValidationError)
		if !ok || !ve.Has("services[gateway].config.routes[0].path") {
			t.Errorf("path %q: want a problem at config.routes[0].path, got %v", bad, err)
		}
	}
	good := "/?map=/etc/mapserver/x.map&SERVICE=WMS&a=%20b"
	cfg := Config{Routes: []Route{{Prefix: "/x", Service: ms, Port: 80, Path: good}}}
	if err := stack.New("gw", ms, New(cfg)).Validate(); err != nil && strings.Contains(err.Error(), ".path") {
		t.Errorf("path %q refused: %v", good, err)
	}
}

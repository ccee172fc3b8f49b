package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/stack"
)

// tileFiles is a part whose /tiles endpoint the gateway answers from files, like
// mapcache.Cache.
type tileFiles struct{ svc *stack.Service }

func (p tileFiles) AddTo(s *stack.Stack) { p.svc.AddTo(s) }
func (p tileFiles) Files(prefix string) *Files {
	if prefix != "/tiles" {
		return nil
	}
	return &Files{Volume: "cache", Match: "/([a-z]+)/([0-9]+)/([0-9]+)[.](png|mvt)", Path: "/$1/$3/$2.$4",
		MaxAge: 90 * time.Second, Types: map[string]string{".mvt": "application/vnd.mapbox-vector-tile"}}
}

func TestGatewayFilesRoute(t *testing.T) {
	tc := backend("tc",
		stack.Endpoint{Kind: stack.WMTS, Port: 80, Path: "/cache/tiles", Public: "/tiles"},
		stack.Endpoint{Kind: stack.TMS, Port: 80, Path: "/cache/tms", Public: "/tms"})
	routes := OGC(tileFiles{tc})
	if len(routes) != 2 || routes[0].Files == nil || routes[1].Files != nil {
		t.Fatalf("routes %+v", routes)
	}
	gw := New(Config{HTTPPort: 28080, Routes: routes})
	d := render(t, tc, gw)
	cf := configData(t, d, "gateway-caddyfile")
	// The file route comes before the route's own matcher: one file_server passes a miss on
	// to the service, with the request's own URI and the route's rewrite (group 1 is the
	// rest of the path).
	want := `	@r0f path_regexp r0f ^/tiles(/([a-z]+)/([0-9]+)/([0-9]+)[.](png|mvt))$
	handle @r0f {
		route {
			rewrite * /{re.r0f.2}/{re.r0f.4}/{re.r0f.3}.{re.r0f.5}
			header ?Cache-Control "public, max-age=90"
			@r0ftype0 path *.mvt
			header @r0ftype0 ?Content-Type application/vnd.mapbox-vector-tile
			file_server {
				root /srv/volumes/cache
				pass_thru
			}
			rewrite * {http.request.orig_uri}
			rewrite * /cache/tiles{re.r0f.1}
			reverse_proxy {
				dynamic a tasks.tc 80 {
`
	if !strings.Contains(cf, want) {
		t.Fatalf("Caddyfile lacks the file route:\n%s\nin:\n%s", want, cf)
	}
	if i, j := strings.Index(cf, "@r0f path_regexp"), strings.Index(cf, "@r0 path_regexp r0 ^/tiles(/.*)?$"); i < 0 || j < i {
		t.Errorf("the route's own matcher is missing or before the file route:\n%s", cf)
	}
	if strings.Contains(cf, "@r1f") {
		t.Errorf("a route without files has a file route:\n%s", cf)
	}
	svc, _ := d.Service("gateway")
	mounts := svc.Spec.TaskTemplate.ContainerSpec.Mounts
	if len(mounts) != 1 || mounts[0].Source != "gw_cache" || !mounts[0].ReadOnly || mounts[0].Target != FilesDir+"/cache" {
		t.Errorf("mounts %+v", mounts)
	}
}

func TestGatewayFilesValidation(t *testing.T) {
	tc := backend("tc")
	good := Files{Volume: "cache", Match: "/([a-z]+)[.]png", Path: "/$1.png"}
	cases := []struct {
		name  string
		edit  func(*Files)
		field string
	}{
		{"bad volume", func(f *Files) { f.Volume = "a b" }, "volume"},
		{"no match", func(f *Files) { f.Match = "" }, "match"},
		{"bad regexp", func(f *Files) { f.Match = "/([a-z]+" }, "match"},
		{"match breaking the Caddyfile", func(f *Files) { f.Match = "/x {\n}" }, "match"},
		{"backslash", func(f *Files) { f.Match = `/(\d+)` }, "match"},
		{"relative path", func(f *Files) { f.Path = "$1.png" }, "path"},
		{"group out of range", func(f *Files) { f.Path = "/$2.png" }, "path"},
		{"negative max-age", func(f *Files) { f.MaxAge = -time.Second }, "maxAge"},
		{"bad type", func(f *Files) { f.Types = map[string]string{"mvt": "x"} }, "types"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := good
			c.edit(&f)
			err := stack.New("gw", tc, New(Config{Routes: []Route{{Prefix: "/t", Service: tc, Port: 80, Files: &f}}})).Validate()
			ve, ok := err.(*stack.ValidationError)
			want := "services[gateway].config.routes[0].files." + c.field
			if !ok || !ve.Has(want) {
				t.Fatalf("want a problem at %s, got %v", want, err)
			}
		})
	}
	if err := stack.New("gw", tc, New(Config{Routes: []Route{{Prefix: "/t", Service: tc, Port: 80, Files: &good}}})).Validate(); err != nil {
		t.Fatalf("valid files refused: %v", err)
	}
}

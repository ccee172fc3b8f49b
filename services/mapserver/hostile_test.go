package mapserver_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/kalisio/kargo/internal/shelltest"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/mapserver"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile layer names reach the health check's shell line as text only: run through
// /bin/sh with stubs, nothing they hold runs, grep and curl get them as one argument each,
// and Validate refuses them.
func TestHostileValuesRunNothing(t *testing.T) {
	xml := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	for _, h := range shelltest.Hostile {
		l := "l" + h
		r := shelltest.Run(t, mapserver.HealthCommand([]string{l}, l))
		assert.False(t, r.Pwned, "layer %q ran: %s", l, r.Output)
		assert.True(t, r.Called("grep", "<Name>"+xml.Replace(l)+"</Name>"), "%v %s", r.Calls, r.Output)
		assert.True(t, r.Called("curl", "http://127.0.0.1/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&RESULTTYPE=hits&TYPENAMES="+url.QueryEscape(l)), "%v", r.Calls)

		db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
		ms := mapserver.New(mapserver.Config{Database: db, Layers: []string{l}, Maps: []mapserver.Map{{
			Name: "demo", Extent: mapserver.Extent{-5, 41, 10, 52},
			Layers: []mapserver.Layer{{Name: l, Type: mapserver.Line, Table: "roads"}},
		}}})
		rs := shelltest.RunAll(t, ms)
		require.Len(t, rs, 1)
		assert.True(t, rs[0].Called("curl", ""), "%v", rs[0].Calls)
		err := stack.New("t", db, ms).Validate()
		assert.ErrorContains(t, err, "services[mapserver].config.layers[0]")
	}
}

package gdal_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gdal"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: a minimal and a fully configured load job render to exactly what they
// rendered to before (internal/golden).
func TestGolden(t *testing.T) {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
	job := gdal.New(gdal.Config{Common: builder.Common{Name: "loader"}, Data: []byte(`{"type":"FeatureCollection","features":[]}`), Database: db, Table: "sections"})
	golden.Check(t, "gdal-default", stack.New("golden", db, job), swarmx.Source{})
	rich := gdal.New(gdal.Config{
		Common: builder.Common{Name: "sections-loader", Image: "kargo/gdal:test",
			Env:       map[string]string{"CPL_DEBUG": "ON"},
			Resources: stack.Resources{CPULimit: 1, MemoryLimit: 512 * stack.MiB},
			Networks:  []string{"backend"},
			Placement: stack.Placement{Constraints: []string{"node.role==worker"}}},
		Schedule:       "0 */10 * * * *",
		DataFile:       "testdata/sections.geojson",
		FileName:       "sections.json",
		Layer:          "sections",
		Database:       db,
		Table:          "sections",
		Schema:         "vigicrues",
		Mode:           gdal.Append,
		SRID:           2154,
		GeometryColumn: "the_geom",
		FID:            "gid",
		Options:        []string{"-nlt", "PROMOTE_TO_MULTI"},
	})
	st := stack.New("golden", db, rich)
	st.Networks = []stack.Network{{Name: "backend"}}
	golden.Check(t, "gdal-rich", st, swarmx.Source{})
	remote := gdal.New(gdal.Config{Common: builder.Common{Name: "remote"}, Source: "/vsicurl/http://127.0.0.1/x.geojson", Database: db, Table: "remote"})
	golden.Check(t, "gdal-source", stack.New("golden", db, remote), swarmx.Source{})
}

package gdal_test

import (
	"fmt"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gdal"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
)

// A GeoJSON file loaded into PostGIS every 30 seconds.
func ExampleNew() {
	db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"})
	loader := gdal.New(gdal.Config{
		Common:   builder.Common{Name: "sections-loader"},
		Schedule: "*/30 * * * * *",
		Data:     []byte(`{"type":"FeatureCollection","features":[]}`),
		Database: db,
		Table:    "sections",
		Mode:     gdal.Overwrite,
	})
	st := scheduler.Ensure(stack.New("flood", db, loader))
	fmt.Println(st.Validate() == nil, loader.Mode, loader.Image, loader.Configs[0].Target, loader.Secrets[0].Source)
	// Output: true replicated-job kargo/gdal:3.6 /data/sections-loader.geojson db-password
}

package gdal_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/shelltest"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/gdal"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile layer names, options, table and schema names and a database name with '$' reach
// the load script as text only: run through /bin/sh with stubs, nothing they hold runs and
// ogr2ogr gets each value as one argument; Validate refuses the identifiers that are not
// plain.
func TestHostileValuesRunNothing(t *testing.T) {
	for _, h := range shelltest.Hostile {
		st, _ := pipeline(gdal.Config{
			Common:  builder.Common{Name: "loader"},
			Data:    []byte(sample),
			Table:   "t" + h,
			Schema:  "s" + h,
			Layer:   "l" + h,
			Options: []string{"-sql", "SELECT 1" + h}})
		load := st.Service("loader")
		lines := shelltest.Lines(load)
		require.Len(t, lines, 1)
		r := shelltest.RunWithSecrets(t, lines[0], "db-password")
		require.NoError(t, r.Err, r.Output)
		assert.False(t, r.Pwned, "a hostile value ran")
		for _, arg := range []string{"l" + h, "s" + h + ".t" + h, "SELECT 1" + h, "PG:host=db port=5432 dbname=gis user=gis"} {
			assert.True(t, r.Called("ogr2ogr", arg), "argument %q: %v", arg, r.Calls)
		}
		assert.True(t, r.Called("pg_isready", "db"), "%v", r.Calls)
		err := st.Validate()
		assert.ErrorContains(t, err, "services[loader].config.table")
		assert.ErrorContains(t, err, "services[loader].config.schema")
	}
}

// A '$' in a (valid) database name stays a '$' in ogr2ogr's connection string.
func TestDollarInDatabaseName(t *testing.T) {
	db := dbWith(t, "gis$HOME", "u$x")
	st := stack.New("v", db, gdal.New(gdal.Config{Common: builder.Common{Name: "loader"}, Data: []byte(sample), Table: "t", Database: db}))
	require.NoError(t, st.Validate())
	lines := shelltest.Lines(st.Service("loader"))
	require.Len(t, lines, 1)
	r := shelltest.RunWithSecrets(t, lines[0], "db-password")
	require.NoError(t, r.Err, r.Output)
	assert.True(t, r.Called("ogr2ogr", "PG:host=db port=5432 dbname=gis$HOME user=u$x"), "%v", r.Calls)
}

func dbWith(t *testing.T, database, user string) *postgis.Server {
	t.Helper()
	return postgis.New(postgis.Config{Common: builder.Common{Name: "db"}, Database: database, User: user, Password: &stack.Secret{Name: "db-password", Data: []byte(password)}})
}

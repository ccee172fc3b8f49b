package postgis_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/shelltest"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
)

// PostGIS's builder writes no shell line: the database and user names go to the health
// check as exec-form arguments and to the image as environment values, and Validate refuses
// names that are not plain identifiers (those are what the loaders put in their scripts).
func TestHostileValuesReachNoShell(t *testing.T) {
	for _, h := range shelltest.Hostile {
		db := postgis.New(postgis.Config{Database: "d" + h, User: "u" + h, Settings: map[string]string{"work_mem": "4MB" + h},
			Common: builder.Common{Env: map[string]string{"X": h}}})
		assert.Empty(t, shelltest.Lines(db.Service), "value %q", h)
		assert.Equal(t, "CMD", db.Health.Test[0], "exec form: no shell")
		err := stack.New("t", db).Validate()
		assert.ErrorContains(t, err, "services[postgis].config.database")
		assert.ErrorContains(t, err, "services[postgis].config.user")
	}
}

package postgis_test

import (
	"fmt"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/postgis"
	"github.com/kalisio/kargo/stack"
)

func ExampleNew() {
	db := postgis.New(postgis.Config{
		Common:        builder.Common{Name: "db"},
		Database:      "gis",
		Volume:        "pgdata",
		InitSQL:       "CREATE TABLE places (id serial PRIMARY KEY, name text, geom geometry(Point, 4326));",
		SharedBuffers: "128MB",
	})
	st := stack.New("demo", db)
	fmt.Println(st.Validate() == nil)
	fmt.Println(db.DSN())
	fmt.Println(db.Env["POSTGRES_PASSWORD_FILE"])
	// Output:
	// true
	// host=db port=5432 dbname=gis user=postgres
	// /run/secrets/db-password
}

package mongodb_test

import (
	"fmt"

	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

func Example() {
	db := mongodb.New(mongodb.Config{})
	d, err := swarmx.Render(stack.New("demo", db), swarmx.Source{})
	if err != nil {
		fmt.Println(err)
		return
	}
	svc, _ := d.Service("mongodb")
	cs := svc.Spec.TaskTemplate.ContainerSpec
	fmt.Println(cs.Image)
	fmt.Println(cs.Mounts[0].Target)
	fmt.Println(svc.Env()["MONGO_INITDB_ROOT_PASSWORD_FILE"])
	fmt.Println(db.URL("weacast"))
	fmt.Println(db.Conn("weacast").URL())
	// Output:
	// mongo:4.4
	// /data/db
	// /run/secrets/mongodb-root-password
	// mongodb://mongodb:27017/weacast
	// mongodb://root@mongodb:27017/weacast?authSource=admin
}

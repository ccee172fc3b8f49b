package krawler_test

import (
	"fmt"

	"github.com/kalisio/kargo/services/krawler"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

func Example() {
	db := mongodb.New(mongodb.Config{})
	st := stack.New("hydro", db,
		krawler.Vigicrues(krawler.VigicruesConfig{Mongo: db}),
		krawler.Teleray(krawler.TelerayConfig{Mongo: db}),
	)
	d, err := swarmx.Render(st, swarmx.Source{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"vigicrues", "teleray"} {
		svc, _ := d.Service(name)
		cs := svc.Spec.TaskTemplate.ContainerSpec
		fmt.Printf("%s %s CRON=%q TTL=%s secret=%s health=%s\n", name, cs.Image, svc.Env()["CRON"], svc.Env()["TTL"],
			cs.Secrets[0].File.Name, cs.Healthcheck.Test[2])
	}
	// Output:
	// vigicrues kalisio/k-vigicrues:1.4.0 CRON="0 0 */3 * * *" TTL=2592000 secret=mongodb-root-password health=/opt/krawler/healthcheck.js
	// teleray kalisio/k-teleray:1.2.0 CRON="0 */10 * * * *" TTL=2592000 secret=mongodb-root-password health=/opt/krawler/healthcheck.js
}

package weacast_test

import (
	"fmt"

	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/services/weacast"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

func Example() {
	db := mongodb.New(mongodb.Config{})
	w := weacast.New(weacast.Config{
		Mongo: db,
		Loaders: []weacast.Loader{
			{Model: weacast.ArpegeEurope},
			{Model: weacast.GFSWorld, Elements: []weacast.Element{weacast.UWind, weacast.VWind}, Levels: weacast.Levels()},
		},
		MeteoFranceToken: stack.Secret{Env: "METEO_FRANCE_TOKEN"},
	})
	d, err := swarmx.Render(stack.New("meteo", db, w), swarmx.Source{
		LookupEnv: func(string) (string, bool) { return "token", true },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, svc := range d.Services {
		cs := svc.Spec.TaskTemplate.ContainerSpec
		fmt.Println(svc.Logical, cs.Image, svc.Env()["UPPER_LIMIT"], len(cs.Secrets))
	}
	// Output:
	// mongodb mongo:4.4  1
	// weacast weacast/weacast-api:1.6.0  2
	// arpege-europe-loader weacast/weacast-arpege:europe-1.7.0 172800 2
	// gfs-world-isobaric-loader weacast/weacast-gfs:isobaric-world-1.7.0 259200 1
}

package weacast_test

import (
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/services/weacast"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: Weacast renders to exactly what it rendered to before (internal/golden), with
// the default config and with every field set.
func TestGolden(t *testing.T) {
	db := mongodb.New(mongodb.Config{})
	def := weacast.New(weacast.Config{Mongo: db, Loaders: []weacast.Loader{{Model: weacast.GFSWorld}}})
	golden.Check(t, "weacast-default", stack.New("golden", db, def), swarmx.Source{})
	rich := weacast.New(weacast.Config{
		Common: builder.Common{
			Name:      "weather",
			Image:     "example/weacast-api:1",
			Replicas:  2,
			Env:       map[string]string{"HTTP_PROXY": "http://proxy:3128"},
			Placement: stack.Placement{Constraints: []string{"node.labels.weacast==true"}},
			Resources: stack.Resources{CPULimit: 2, MemoryLimit: 2 * stack.GiB, CPUReservation: 0.5, MemoryReservation: 512 * stack.MiB},
			Networks:  []string{"back"},
		},
		Mongo: db, Database: "meteo",
		DataDatabase: "elements", AppSecret: stack.Secret{Name: "jwt", Data: []byte("golden-app-secret")},
		LogLevel: "info", Debug: "weacast*", RedisURL: "redis://redis:6379", LaunchDelay: 10 * time.Second,
		Subdomain: "example.org", NoPublish: true,
		Loaders: []weacast.Loader{
			{Model: weacast.ArpegeWorld, Elements: []weacast.Element{weacast.UWind, weacast.VWind},
				Name: "arpege", Image: "example/loader:1", Cron: "0 15 * * * *", UpperLimit: 24 * time.Hour,
				TTL: 12 * time.Hour, OldestRunInterval: 6 * time.Hour, KeepPastRuns: true, WorkersLimit: 4,
				RequestDelay: time.Second, Debug: "krawler*",
				MeteoFranceToken: &stack.Secret{Name: "arpege-token", Data: []byte("golden-loader-token")},
				Placement:        stack.Placement{Constraints: []string{"node.role==worker"}},
				Resources:        stack.Resources{CPULimit: 2, MemoryLimit: 3 * stack.GiB}},
			{Model: weacast.GFSWorld, Levels: []weacast.Level{weacast.Level700}},
			{Model: weacast.AromeFrance},
		},
		MeteoFranceToken: stack.Secret{Data: []byte("golden-token")},
		S3: &weacast.S3{Endpoint: "https://s3.example.org", Bucket: "forecasts", AccessKey: "AKGOLDEN",
			SecretAccessKey: stack.Secret{Data: []byte("golden-s3-secret")}},
		NoSync:       true,
		SlackWebhook: &stack.Secret{Data: []byte("https://hooks.example.org/golden")},
	})
	golden.Check(t, "weacast-rich", stack.New("golden", stack.Network{Name: "back"}, db, rich), swarmx.Source{})
	plain := weacast.New(weacast.Config{DBURL: "mongodb://mongo:27017/weacast", DataDBURL: "mongodb://mongo:27017/data",
		Loaders: []weacast.Loader{{Model: weacast.GFSWorld}}})
	golden.Check(t, "weacast-dburl", stack.New("golden", plain), swarmx.Source{})
}

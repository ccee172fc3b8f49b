package krawler_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/golden"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/krawler"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGolden: the Krawler jobs render to exactly what they rendered to before
// (internal/golden), with the default config and with every field set.
func TestGolden(t *testing.T) {
	db := mongodb.New(mongodb.Config{})
	def := krawler.New(krawler.Config{JobData: []byte("module.exports = {}\n"), Cron: "0 */10 * * * *"})
	golden.Check(t, "krawler-default", stack.New("golden", def), swarmx.Source{})
	rich := krawler.New(krawler.Config{
		Common: builder.Common{
			Name:      "loader",
			Image:     "example/krawler:1",
			Env:       map[string]string{"HTTP_PROXY": "http://proxy:3128"},
			Replicas:  1,
			Placement: stack.Placement{Constraints: []string{"node.role==worker"}},
			Resources: stack.Resources{CPULimit: 2, MemoryLimit: stack.GiB, CPUReservation: 0.2, MemoryReservation: 256 * stack.MiB},
			Networks:  []string{"back"},
		},
		Job: "testdata/golden-job.js", JobFile: "job.js",
		Cron: "0 0 * * * *", Run: true, Mongo: db, Database: "data", Subdomain: "example.org", Debug: "krawler*",
		SlackWebhook: &stack.Secret{Data: []byte("https://hooks.example.org/golden")},
		Health:       krawler.HealthConfig{SuccessRate: 0.5, MessageTemplate: "<%= jobId %> failed on <%= SUBDOMAIN %>"},
	})
	golden.Check(t, "krawler-rich", stack.New("golden", stack.Network{Name: "back"}, db, rich), swarmx.Source{})
	plain := krawler.New(krawler.Config{JobData: []byte("module.exports = {}\n"), Cron: "0 0 * * * *", DBURL: "mongodb://mongo:27017/data"})
	golden.Check(t, "krawler-dburl", stack.New("golden", plain), swarmx.Source{})

	golden.Check(t, "krawler-vigicrues", stack.New("golden", db, krawler.Vigicrues(krawler.VigicruesConfig{Mongo: db})), swarmx.Source{})
	teleray := krawler.Teleray(krawler.TelerayConfig{
		Common: builder.Common{
			Name:      "radiation",
			Image:     "example/k-teleray:2",
			Env:       map[string]string{"HTTP_PROXY": "http://proxy:3128"},
			Replicas:  1,
			Placement: stack.Placement{Constraints: []string{"node.role==worker"}},
			Resources: stack.Resources{CPULimit: 0.5, MemoryLimit: 256 * stack.MiB},
			Networks:  []string{"back"},
		},
		DBURL: "mongodb://mongo:27017/teleray", Cron: "0 */5 * * * *",
		TTL: 48 * 3600e9, Subdomain: "example.org", Debug: "krawler*",
		SlackWebhook: &stack.Secret{Name: "slack", Data: []byte("https://hooks.example.org/golden")},
		Health:       krawler.HealthConfig{SuccessRate: 0.75},
	})
	golden.Check(t, "krawler-teleray", stack.New("golden", stack.Network{Name: "back"}, teleray), swarmx.Source{})
	vigi := krawler.Vigicrues(krawler.VigicruesConfig{Common: builder.Common{Name: "flood"}, Mongo: db, Database: "floods"})
	golden.Check(t, "krawler-vigicrues-db", stack.New("golden", db, vigi), swarmx.Source{})
}

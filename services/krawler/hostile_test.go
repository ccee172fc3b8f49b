package krawler_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/shelltest"
	"github.com/kalisio/kargo/services/krawler"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile job file names, database names, secret names and health templates reach the
// container command and the health check as text only: run through /bin/sh with stubs,
// nothing they hold runs, node still gets each value as one argument, and Validate refuses
// the names that are not plain.
func TestHostileValuesRunNothing(t *testing.T) {
	const cron = "0 */10 * * * *"
	for _, h := range shelltest.Hostile {
		t.Run(h, func(t *testing.T) {
			job := krawler.New(krawler.Config{JobData: []byte("x"), Cron: cron, JobFile: "job" + h})
			r := shelltest.RunAll(t, job)
			require.Len(t, r, 1)
			assert.True(t, r[0].Called("node", "job"+h), "%v %s", r[0].Calls, r[0].Output)
			assert.ErrorContains(t, stack.New("t", job).Validate(), "services[krawler].config.jobFile")

			db := mongodb.New(mongodb.Config{})
			withDB := krawler.New(krawler.Config{JobData: []byte("x"), Cron: cron, Mongo: db, Database: "db" + h})
			r = shelltest.RunAll(t, withDB)
			require.Len(t, r, 1)
			assert.True(t, r[0].Called("node", "jobfile.js"), "%v %s", r[0].Calls, r[0].Output)
			assert.ErrorContains(t, stack.New("t", db, withDB).Validate(), "services[krawler].config.database")

			slack := krawler.New(krawler.Config{JobData: []byte("x"), Cron: cron,
				SlackWebhook: &stack.Secret{Name: "s" + h, Data: []byte("https://hooks.invalid/x")},
				Health:       krawler.HealthConfig{MessageTemplate: "t" + h}})
			r = shelltest.RunAll(t, slack)
			require.Len(t, r, 2, "command and health check")
			assert.True(t, r[1].Called("cat", "/run/secrets/s"+h) || r[0].Called("cat", "/run/secrets/s"+h), "%v", r)
			health := shelltest.Run(t, slack.Health.Test[1])
			assert.True(t, health.Called("node", "t"+h), "%v %s", health.Calls, health.Output)
			assert.Error(t, stack.New("t", slack).Validate(), "secret name %q", "s"+h)
		})
	}
}

package weacast_test

import (
	"testing"

	"github.com/kalisio/kargo/internal/shelltest"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/services/weacast"
	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile database names and secret names reach the API's and the loaders' shell lines as
// text only: run through /bin/sh with stubs, nothing they hold runs, the image's command
// still starts, and Validate refuses them.
func TestHostileValuesRunNothing(t *testing.T) {
	for _, h := range shelltest.Hostile {
		db := mongodb.New(mongodb.Config{})
		w := weacast.New(weacast.Config{Mongo: db, Database: "w" + h, DataDatabase: "d" + h,
			AppSecret:        stack.Secret{Name: "app" + h, Data: []byte("x")},
			MeteoFranceToken: stack.Secret{Name: "mf" + h, Data: []byte("x")},
			SlackWebhook:     &stack.Secret{Name: "slack" + h, Data: []byte("x")},
			Loaders:          []weacast.Loader{{Model: weacast.ArpegeWorld}}})
		for _, svc := range w.Services() {
			rs := shelltest.RunAll(t, svc)
			require.NotEmpty(t, rs, svc.Name)
			cmd := rs[len(rs)-1] // health check first, then the command
			require.NoError(t, cmd.Err, cmd.Output)
			if svc == w.API {
				assert.True(t, cmd.Called("npm", "prod"), "%v %s", cmd.Calls, cmd.Output)
			} else {
				assert.True(t, cmd.Called("node", "--cron"), "%s: %v %s", svc.Name, cmd.Calls, cmd.Output)
			}
		}
		assert.True(t, shelltest.Run(t, w.API.Args[2]).Called("cat", "/run/secrets/app"+h))
		err := stack.New("t", db, w).Validate()
		require.Error(t, err)
		for _, p := range []string{"services[weacast].config.database", "services[weacast].declares.secrets[app" + h + "].name"} {
			assert.ErrorContains(t, err, p)
		}
	}
}

package weacast_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/services/weacast"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var token = stack.Secret{Name: "mf-token", Env: "METEO_FRANCE_TOKEN"}

func render(t *testing.T, parts ...stack.Part) *swarmx.Desired {
	t.Helper()
	d, err := swarmx.Render(stack.New("t", parts...), swarmx.Source{
		LookupEnv: func(k string) (string, bool) { return "tok-value", k == "METEO_FRANCE_TOKEN" },
	})
	require.NoError(t, err)
	return d
}

func service(t *testing.T, d *swarmx.Desired, name string) swarmx.Service {
	t.Helper()
	svc, ok := d.Service(name)
	require.True(t, ok, "service %s", name)
	return svc
}

func TestAPIWithMongo(t *testing.T) {
	db := mongodb.New(mongodb.Config{})
	w := weacast.New(weacast.Config{Mongo: db, Subdomain: "kargo.example.org", LaunchDelay: 10 * time.Second})
	d := render(t, db, w)
	api := service(t, d, "weacast")
	cs := api.Spec.TaskTemplate.ContainerSpec
	assert.Equal(t, "weacast/weacast-api:1.6.0", cs.Image)

	env := api.Env()
	assert.Equal(t, "verbose", env["LOG_LEVEL"])
	assert.Equal(t, "90000", env["COTE_DELAY"])
	assert.Equal(t, "10000", env["BASE_PORT"])
	assert.Equal(t, "10500", env["HIGHEST_PORT"])
	assert.Equal(t, "10000", env["LAUNCH_DELAY"])
	assert.Equal(t, "kargo.example.org", env["SUBDOMAIN"])
	assert.NotContains(t, env, "APP_SECRET")
	assert.NotContains(t, env, "DB_URL")

	// Port 10000 published as upstream; 8081 stays internal.
	require.Len(t, api.Spec.EndpointSpec.Ports, 1)
	assert.Equal(t, uint32(10000), api.Spec.EndpointSpec.Ports[0].TargetPort)
	assert.Equal(t, uint32(10000), api.Spec.EndpointSpec.Ports[0].PublishedPort)
	assert.Equal(t, "dnsrr", string(api.Spec.EndpointSpec.Mode))

	// Secrets as files: the generated app secret and MongoDB's password.
	var names []string
	for _, s := range cs.Secrets {
		names = append(names, s.File.Name)
	}
	assert.ElementsMatch(t, []string{"weacast-app-secret", "mongodb-root-password"}, names)
	for _, s := range d.Secrets {
		if s.Logical == "weacast-app-secret" {
			assert.Equal(t, 64, s.Generate)
		}
	}

	// The image's CMD, wrapped to export the secrets.
	require.Len(t, cs.Args, 3)
	script := cs.Args[2]
	assert.Contains(t, script, `APP_SECRET="$(cat /run/secrets/weacast-app-secret)"; export APP_SECRET;`)
	assert.Contains(t, script, `@mongodb:27017/weacast?authSource=admin"; export DB_URL;`)
	assert.True(t, strings.HasSuffix(script, "exec npm run prod"), script)

	hc := cs.Healthcheck
	assert.Equal(t, []string{"CMD", "curl", "-f", "http://localhost:8081/api/healthcheck"}, hc.Test)
	assert.Equal(t, time.Minute, hc.Interval)
	assert.Equal(t, 10*time.Second, hc.Timeout)
	assert.Equal(t, 3, hc.Retries)
	assert.Equal(t, 40*time.Second, hc.StartPeriod)
	assert.Equal(t, []string{"mongodb"}, api.DependsOn)
	require.NotNil(t, api.Spec.TaskTemplate.Resources.Limits)
}

func TestLoaders(t *testing.T) {
	db := mongodb.New(mongodb.Config{})
	w := weacast.New(weacast.Config{
		Mongo: db, MeteoFranceToken: token,
		Models:  []weacast.Model{weacast.ArpegeWorld, weacast.ArpegeEurope, weacast.AromeFrance, weacast.AromeFranceHigh, weacast.GFSWorld},
		Loaders: map[weacast.Model]weacast.Loader{weacast.GFSWorld: {Cron: "0 30 * * * *", UpperLimit: 240 * time.Hour, KeepPastRuns: true, WorkersLimit: 4, RequestDelay: time.Second, TTL: 48 * time.Hour}},
		S3:      &weacast.S3{Bucket: "archive", Endpoint: "https://s3.example.org", AccessKey: "AK", SecretAccessKey: stack.Secret{Data: []byte("sk")}},
	})
	require.Len(t, w.Loaders, 5)
	d := render(t, db, w)

	cases := []struct {
		name, image, upper string
		token              bool
		job                string
	}{
		{"arpege-world-loader", "weacast/weacast-arpege:world-1.7.0", "172800", true, "jobfile-arpege-world.js"},
		{"arpege-europe-loader", "weacast/weacast-arpege:europe-1.7.0", "172800", true, "jobfile-arpege-europe.js"},
		{"arome-france-loader", "weacast/weacast-arome:france-1.7.0", "129600", true, "jobfile-arome-france.js"},
		{"arome-france-high-loader", "weacast/weacast-arome:france-high-1.7.0", "86400", true, "jobfile-arome-france-high.js"},
		{"gfs-world-loader", "weacast/weacast-gfs:world-1.7.0", "864000", false, "jobfile-gfs-world.js"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc := service(t, d, c.name)
			cs := svc.Spec.TaskTemplate.ContainerSpec
			env := svc.Env()
			assert.Equal(t, c.image, cs.Image)
			assert.Equal(t, c.upper, env["UPPER_LIMIT"])
			assert.Equal(t, "archive", env["S3_BUCKET"])
			assert.Equal(t, "https://s3.example.org", env["S3_ENDPOINT"])
			assert.Equal(t, "AK", env["S3_ACCESS_KEY"])
			for _, k := range []string{"DB_URL", "SYNC_DB_URL", "METEO_FRANCE_TOKEN", "S3_SECRET_ACCESS_KEY"} {
				assert.NotContains(t, env, k, "secret-bearing %s is exported from a file", k)
			}
			script := cs.Args[2]
			assert.Contains(t, script, `; export DB_URL;`)
			assert.Contains(t, script, `; export SYNC_DB_URL;`)
			assert.Contains(t, script, `S3_SECRET_ACCESS_KEY="$(cat /run/secrets/weacast-s3-secret-access-key)"`)
			assert.True(t, strings.HasSuffix(script, `exec node /opt/krawler --cron "$CRON" `+c.job), script)
			if c.token {
				assert.Contains(t, script, `METEO_FRANCE_TOKEN="$(cat /run/secrets/mf-token)"; export METEO_FRANCE_TOKEN;`)
			} else {
				assert.NotContains(t, script, "METEO_FRANCE_TOKEN")
			}
			hc := cs.Healthcheck
			assert.Equal(t, []string{"CMD", "node", "/opt/krawler/healthcheck.js", "--success-rate", "0.75",
				"--message-template", "*<%= SUBDOMAIN %>*\nKrawler job *<%= jobId %>*: <%= error.message %>"}, hc.Test)
			assert.Equal(t, time.Minute, hc.StartPeriod)
			assert.Contains(t, env, "SUBDOMAIN")
			assert.Empty(t, svc.Spec.EndpointSpec.Ports)
			assert.NotNil(t, svc.Spec.TaskTemplate.Resources.Limits)
		})
	}

	arpege := service(t, d, "arpege-world-loader").Env()
	assert.NotContains(t, arpege, "CRON", "the image's ENV CRON applies, as in Kargo")
	assert.NotContains(t, arpege, "KEEP_PAST_RUNS", "the job reads any non-empty value as true")
	gfs := service(t, d, "gfs-world-loader").Env()
	assert.Equal(t, "0 30 * * * *", gfs["CRON"])
	assert.Equal(t, "true", gfs["KEEP_PAST_RUNS"])
	assert.Equal(t, "4", gfs["WORKERS_LIMIT"])
	assert.Equal(t, "1000", gfs["REQUEST_DELAY"])
	assert.Equal(t, "172800", gfs["TTL"])
	assert.Same(t, w.Loaders[4], w.Loader(weacast.GFSWorld))
}

func TestLoaderWithPlainURLKeepsImageCommand(t *testing.T) {
	w := weacast.New(weacast.Config{DBURL: "mongodb://mongodb:27017/weacast", Models: []weacast.Model{weacast.GFSWorld}})
	d := render(t, w)
	svc := service(t, d, "gfs-world-loader")
	assert.Nil(t, svc.Spec.TaskTemplate.ContainerSpec.Args, "nothing to export: the image's CMD runs as is")
	assert.Equal(t, "mongodb://mongodb:27017/weacast", svc.Env()["DB_URL"])
	assert.Equal(t, "mongodb://mongodb:27017/weacast", svc.Env()["SYNC_DB_URL"])
	assert.Equal(t, "mongodb://mongodb:27017/weacast", service(t, d, "weacast").Env()["DB_URL"])
}

func TestProblems(t *testing.T) {
	w := weacast.New(weacast.Config{
		Models: []weacast.Model{weacast.GFSWorld, weacast.AromeFrance, "ecmwf", weacast.GFSWorld},
		Loaders: map[weacast.Model]weacast.Loader{
			weacast.GFSWorld:     {UpperLimit: 100 * time.Hour, Cron: "*/5 * * * *"},
			weacast.AromeFrance:  {UpperLimit: 48 * time.Hour},
			weacast.ArpegeEurope: {},
		},
	})
	err := stack.New("t", w).Validate()
	require.Error(t, err)
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	for _, p := range []string{
		"services[weacast].config.mongo",
		"services[weacast].config.models[2]",
		"services[weacast].config.models[3]",
		"services[weacast].config.loaders[arpege-europe]",
		"services[gfs-world-loader].config.upperLimit",
		"services[gfs-world-loader].config.cron",
		"services[arome-france-loader].config.upperLimit",
		"services[arome-france-loader].config.meteoFranceToken",
	} {
		assert.True(t, ve.Has(p), "missing %s in\n%s", p, err)
	}
}

func TestModels(t *testing.T) {
	assert.Equal(t, []string{"arome-france-high-u-wind", "arome-france-high-v-wind", "arome-france-high-gust",
		"arome-france-high-temperature", "arome-france-high-precipitations"}, weacast.AromeFranceHigh.Collections())
	info, ok := weacast.ArpegeEurope.Info()
	require.True(t, ok)
	assert.Equal(t, "0 15 * * * *", info.Cron)
	assert.Equal(t, time.Hour, info.Interval)
	for _, m := range weacast.Models() {
		info, _ := m.Info()
		_, err := stack.CronParser.Parse(info.Cron)
		assert.NoError(t, err, m)
		assert.Zero(t, info.UpperLimit%info.Interval, m)
	}
	assert.Nil(t, weacast.Model("ecmwf").Elements())
	assert.Equal(t, "2 m above ground", weacast.Temperature.Level())
}

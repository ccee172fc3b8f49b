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
		Loaders: []weacast.Loader{{Model: weacast.ArpegeWorld}, {Model: weacast.ArpegeEurope}, {Model: weacast.AromeFrance}, {Model: weacast.AromeFranceHigh},
			{Model: weacast.GFSWorld, Cron: "0 30 * * * *", UpperLimit: 240 * time.Hour, KeepPastRuns: true, WorkersLimit: 4, RequestDelay: time.Second, TTL: 48 * time.Hour}},
		S3: &weacast.S3{Bucket: "archive", Endpoint: "https://s3.example.org", AccessKey: "AK", SecretAccessKey: stack.Secret{Data: []byte("sk")}},
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
	w := weacast.New(weacast.Config{DBURL: "mongodb://mongodb:27017/weacast", Loaders: []weacast.Loader{{Model: weacast.GFSWorld}}})
	d := render(t, w)
	svc := service(t, d, "gfs-world-loader")
	assert.Nil(t, svc.Spec.TaskTemplate.ContainerSpec.Args, "nothing to export: the image's CMD runs as is")
	assert.Equal(t, "mongodb://mongodb:27017/weacast", svc.Env()["DB_URL"])
	assert.Equal(t, "mongodb://mongodb:27017/weacast", svc.Env()["SYNC_DB_URL"])
	assert.Equal(t, "mongodb://mongodb:27017/weacast", service(t, d, "weacast").Env()["DB_URL"])
}

func TestProblems(t *testing.T) {
	w := weacast.New(weacast.Config{
		Loaders: []weacast.Loader{
			{Model: weacast.GFSWorld, UpperLimit: 100 * time.Hour, Cron: "*/5 * * * * * *"},
			{Model: weacast.AromeFrance, UpperLimit: 48 * time.Hour, TTL: -time.Hour},
			{Model: "ecmwf"},
			{Model: weacast.GFSWorld},
			{},
		},
	})
	ve := problems(t, w)
	for _, p := range []string{
		"services[weacast].config.mongo",
		"services[weacast].config.loaders[0].upperLimit",
		"services[weacast].config.loaders[0].cron",
		"services[weacast].config.loaders[1].upperLimit",
		"services[weacast].config.loaders[1].ttl",
		"services[weacast].config.loaders[1].meteoFranceToken",
		"services[weacast].config.loaders[2].model",
		"services[weacast].config.loaders[3].model",
		"services[weacast].config.loaders[4].model",
	} {
		assert.True(t, ve.Has(p), "missing %s in\n%s", p, ve)
	}
	assert.Len(t, w.Loaders, 2, "unknown and duplicate models build no loader")
}

func problems(t *testing.T, parts ...stack.Part) *stack.ValidationError {
	t.Helper()
	err := stack.New("t", parts...).Validate()
	require.Error(t, err)
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	return ve
}

func message(ve *stack.ValidationError, path string) string {
	for _, p := range ve.Problems {
		if p.Path == path {
			return p.Message
		}
	}
	return ""
}

func TestCronOverride(t *testing.T) {
	ve := problems(t, weacast.New(weacast.Config{DBURL: "mongodb://mongodb:27017/weacast", Loaders: []weacast.Loader{
		{Model: weacast.GFSWorld, Cron: "0 30 * * * *"},
		{Model: weacast.GFSWorld, Levels: weacast.Levels(), Cron: "*/5 * * *"},
	}}))
	require.Len(t, ve.Problems, 1, ve.Error())
	assert.Equal(t, "services[weacast].config.loaders[1].cron", ve.Problems[0].Path)
	assert.Contains(t, ve.Problems[0].Message, `invalid 6-field cron "*/5 * * *"`)
}

func TestElementsAndLevelsProblems(t *testing.T) {
	w := weacast.New(weacast.Config{
		DBURL: "mongodb://mongodb:27017/weacast", MeteoFranceToken: token,
		Loaders: []weacast.Loader{
			{Model: weacast.GFSWorld, Elements: []weacast.Element{weacast.UWind, weacast.Temperature}},
			{Model: weacast.ArpegeEurope, Elements: []weacast.Element{"wind", weacast.UWind, weacast.UWind}},
			{Model: weacast.ArpegeWorld, Levels: []weacast.Level{weacast.Level700, 850, weacast.Level700},
				Elements: []weacast.Element{weacast.VWind, weacast.Gust, weacast.Precipitations}},
			{Model: weacast.AromeFrance, Levels: []weacast.Level{weacast.Level1000}},
		},
	})
	ve := problems(t, w)
	want := map[string]string{
		"services[weacast].config.loaders[1].elements[0]": `unknown element "wind" (known: [u-wind v-wind gust temperature precipitations])`,
		"services[weacast].config.loaders[1].elements[2]": `element "u-wind" is already listed at elements[1]`,
		"services[weacast].config.loaders[2].levels[1]":   `unknown isobaric level 850 hPa (the arpege-world isobaric job loads [1000 700 450 300 200] hPa)`,
		"services[weacast].config.loaders[2].levels[2]":   `level 700 is already listed at levels[0]`,
		"services[weacast].config.loaders[2].elements[1]": `the arpege-world isobaric loader (jobfile-arpege-isobaric-world.js) does not load "gust": it loads [u-wind v-wind temperature]`,
		"services[weacast].config.loaders[2].elements[2]": `the arpege-world isobaric loader (jobfile-arpege-isobaric-world.js) does not load "precipitations": it loads [u-wind v-wind temperature]`,
		"services[weacast].config.loaders[3].levels":      `model arome-france has no isobaric loader (weacast-loader 1.7.0 builds isobaric images for arpege-world, arpege-europe and gfs-world only)`,
	}
	for p, msg := range want {
		assert.Equal(t, msg, message(ve, p), p)
	}
	assert.Len(t, ve.Problems, len(want), ve.Error())
	// The loader with valid selections and those with bad elements are still built (every
	// problem is reported at once); AROME has no isobaric image to build.
	assert.Len(t, w.Loaders, 3)
}

func TestIsobaricLoader(t *testing.T) {
	db := mongodb.New(mongodb.Config{})
	w := weacast.New(weacast.Config{
		Mongo: db, MeteoFranceToken: token,
		Loaders: []weacast.Loader{
			{Model: weacast.ArpegeEurope},
			{Model: weacast.ArpegeEurope, Elements: []weacast.Element{weacast.UWind, weacast.VWind}, Levels: []weacast.Level{weacast.Level300, weacast.Level200}},
			{Model: weacast.GFSWorld, Levels: weacast.Levels(), Cron: "0 55 * * * *"},
		},
	})
	require.NoError(t, stack.New("t", db, w).Validate())
	d := render(t, db, w)

	surface := service(t, d, "arpege-europe-loader")
	assert.Equal(t, "weacast/weacast-arpege:europe-1.7.0", surface.Spec.TaskTemplate.ContainerSpec.Image)
	assert.Equal(t, "surface", surface.Spec.Labels["io.kargo.weacast.variant"])

	iso := service(t, d, "arpege-europe-isobaric-loader")
	cs := iso.Spec.TaskTemplate.ContainerSpec
	assert.Equal(t, "weacast/weacast-arpege:isobaric-europe-1.7.0", cs.Image)
	assert.True(t, strings.HasSuffix(cs.Args[2], `exec node /opt/krawler --cron "$CRON" jobfile-arpege-isobaric-europe.js`), cs.Args[2])
	assert.NotContains(t, iso.Env(), "CRON", "the image's ENV CRON (0 45 * * * *) applies")
	assert.Equal(t, "172800", iso.Env()["UPPER_LIMIT"])
	assert.Contains(t, cs.Args[2], `METEO_FRANCE_TOKEN="$(cat /run/secrets/mf-token)"`)
	assert.Equal(t, "arpege-europe", iso.Spec.Labels["io.kargo.weacast.model"])
	assert.Equal(t, "isobaric", iso.Spec.Labels["io.kargo.weacast.variant"])
	assert.Same(t, w.Loaders[1], w.IsobaricLoader(weacast.ArpegeEurope))
	assert.Same(t, w.Loaders[0], w.Loader(weacast.ArpegeEurope))

	gfs := service(t, d, "gfs-world-isobaric-loader")
	assert.Equal(t, "weacast/weacast-gfs:isobaric-world-1.7.0", gfs.Spec.TaskTemplate.ContainerSpec.Image)
	assert.Equal(t, "0 55 * * * *", gfs.Env()["CRON"])
	assert.True(t, strings.HasSuffix(gfs.Spec.TaskTemplate.ContainerSpec.Args[2], "jobfile-gfs-isobaric-world.js"))
	assert.Nil(t, w.Loader(weacast.GFSWorld))
}

func TestCredentialsInURLs(t *testing.T) {
	const pw = "s3cr3t"
	w := weacast.New(weacast.Config{
		DBURL:     "mongodb://weacast:" + pw + "@mongodb:27017/weacast",
		DataDBURL: "mongodb+srv://data:" + pw + "@cluster.example.org/data",
		RedisURL:  "redis://:" + pw + "@redis:6379",
		Loaders:   []weacast.Loader{{Model: weacast.GFSWorld}},
	})
	ve := problems(t, w)
	for _, p := range []string{"config.dbURL", "config.dataDBURL", "config.redisURL"} {
		assert.Contains(t, message(ve, "services[weacast]."+p), "must not hold a password", p)
	}
	assert.Contains(t, message(ve, "services[weacast].config.dbURL"), "give Mongo")
	assert.NotContains(t, ve.Error(), pw)
	// The URLs never reach a spec, even before validation.
	for _, svc := range w.Services() {
		for k, v := range svc.Env {
			assert.NotContains(t, v, pw, "%s %s", svc.Name, k)
		}
	}

	// A user name alone is fine.
	w = weacast.New(weacast.Config{DBURL: "mongodb://weacast@mongodb:27017/weacast", RedisURL: "redis://redis:6379"})
	assert.NoError(t, stack.New("t", w).Validate())
	assert.Equal(t, "redis://redis:6379", w.API.Env["COTE_DISCOVERY_REDIS_URL"])
}

func TestModels(t *testing.T) {
	assert.Equal(t, []string{"arome-france-high-u-wind", "arome-france-high-v-wind", "arome-france-high-gust",
		"arome-france-high-temperature", "arome-france-high-precipitations"}, weacast.AromeFranceHigh.Collections())
	iso := weacast.GFSWorld.IsobaricCollections()
	assert.Len(t, iso, 15)
	assert.Equal(t, "gfs-world-u-wind-1000", iso[0])
	assert.Equal(t, "gfs-world-temperature-200", iso[14])
	assert.Nil(t, weacast.AromeFrance.IsobaricCollections())
	info, ok := weacast.ArpegeEurope.Info()
	require.True(t, ok)
	assert.Equal(t, "0 15 * * * *", info.Surface.Cron)
	assert.Equal(t, "0 45 * * * *", info.Isobaric.Cron)
	assert.Equal(t, time.Hour, info.Interval)
	for _, m := range weacast.Models() {
		info, _ := m.Info()
		for _, v := range []*weacast.Variant{&info.Surface, info.Isobaric} {
			if v == nil {
				continue
			}
			_, err := stack.CronParser.Parse(v.Cron)
			assert.NoError(t, err, m)
			assert.NotEmpty(t, v.Elements, m)
		}
		assert.Zero(t, info.UpperLimit%info.Interval, m)
	}
	assert.Nil(t, weacast.Model("ecmwf").Elements())
	assert.Equal(t, "2 m above ground", weacast.Temperature.SurfaceLevel())
}

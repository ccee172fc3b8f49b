package krawler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/krawler"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func render(t *testing.T, name string, parts ...stack.Part) swarmx.Service {
	t.Helper()
	d, err := swarmx.Render(stack.New("t", parts...), swarmx.Source{})
	require.NoError(t, err)
	svc, ok := d.Service(name)
	require.True(t, ok)
	return svc
}

func problems(t *testing.T, parts ...stack.Part) *stack.ValidationError {
	t.Helper()
	err := stack.New("t", parts...).Validate()
	require.Error(t, err)
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	return ve
}

const template = "*<%= SUBDOMAIN %>*\nKrawler job *<%= jobId %>*: <%= error.message %>"

func assertKargoHealth(t *testing.T, svc swarmx.Service, extra ...string) {
	t.Helper()
	hc := svc.Spec.TaskTemplate.ContainerSpec.Healthcheck
	require.NotNil(t, hc)
	want := append([]string{"CMD", "node", "/opt/krawler/healthcheck.js"}, extra...)
	want = append(want, "--message-template", template)
	assert.Equal(t, want, hc.Test)
	assert.Equal(t, time.Minute, hc.Interval)
	assert.Equal(t, 10*time.Second, hc.Timeout)
	assert.Equal(t, 3, hc.Retries)
	assert.Equal(t, time.Minute, hc.StartPeriod)
}

func TestVigicruesWithURL(t *testing.T) {
	svc := render(t, "vigicrues", krawler.Vigicrues(krawler.VigicruesConfig{DBURL: "mongodb://mongodb:27017/vigicrues"}))
	cs := svc.Spec.TaskTemplate.ContainerSpec
	assert.Equal(t, "kalisio/k-vigicrues:1.4.0", cs.Image)
	env := svc.Env()
	assert.Equal(t, "0 0 */3 * * *", env["CRON"])
	assert.Equal(t, "2592000", env["TTL"])
	assert.Equal(t, "mongodb://mongodb:27017/vigicrues", env["DB_URL"])
	assert.Contains(t, env, "SUBDOMAIN", "the message template reads SUBDOMAIN: it must be defined")
	// No secret to export: the image's own CMD runs untouched.
	assert.Nil(t, cs.Args)
	assert.Nil(t, cs.Command)
	assertKargoHealth(t, svc)
	assert.Empty(t, svc.Spec.EndpointSpec.Ports)
	assert.Equal(t, uint64(1), svc.Replicas())
	assert.Equal(t, swarm.RestartPolicyConditionAny, svc.Spec.TaskTemplate.RestartPolicy.Condition, "long-running: restarted whatever the exit code")
	assert.Nil(t, svc.Spec.TaskTemplate.Placement, "no node.role==worker: it would never schedule on one node")
	require.NotNil(t, svc.Spec.TaskTemplate.Resources)
	assert.NotZero(t, svc.Spec.TaskTemplate.Resources.Limits.MemoryBytes)
	assert.NotZero(t, svc.Spec.TaskTemplate.Resources.Reservations.MemoryBytes)
	assert.Empty(t, svc.Schedule, "not a Kargo-scheduled job: Krawler's in-process cron runs it")
}

func TestTelerayWithMongo(t *testing.T) {
	db := mongodb.New(mongodb.Config{})
	svc := render(t, "teleray", db, krawler.Teleray(krawler.TelerayConfig{Mongo: db, TTL: 7 * 24 * time.Hour, Subdomain: "kargo.example.org"}))
	cs := svc.Spec.TaskTemplate.ContainerSpec
	assert.Equal(t, "kalisio/k-teleray:1.2.0", cs.Image)
	env := svc.Env()
	assert.Equal(t, "0 */10 * * * *", env["CRON"])
	assert.Equal(t, "604800", env["TTL"])
	assert.Equal(t, "kargo.example.org", env["SUBDOMAIN"])
	assert.NotContains(t, env, "DB_URL", "the URL holds the password: it is built in the container")
	// The password secret is mounted as a file, readable by the job's user.
	require.Len(t, cs.Secrets, 1)
	assert.Equal(t, "t_mongodb-root-password", cs.Secrets[0].SecretName)
	assert.Equal(t, "mongodb-root-password", cs.Secrets[0].File.Name)
	assert.Equal(t, uint32(0o444), uint32(cs.Secrets[0].File.Mode))
	// The image's CMD, wrapped.
	require.Len(t, cs.Args, 3)
	assert.Equal(t, []string{"sh", "-c"}, cs.Args[:2])
	script := cs.Args[2]
	assert.True(t, strings.HasPrefix(script, `set -e; DB_URL="mongodb://root:$(node -e `), script)
	assert.Contains(t, script, `/run/secrets/mongodb-root-password')@mongodb:27017/teleray?authSource=admin"; export DB_URL; `)
	assert.True(t, strings.HasSuffix(script, `exec node /opt/krawler --cron "$CRON" --run jobfile.js`), script)
	assertKargoHealth(t, svc)
	assert.Equal(t, []string{"mongodb"}, svc.DependsOn)
}

func TestPresetProblems(t *testing.T) {
	ve := problems(t, krawler.Vigicrues(krawler.VigicruesConfig{Cron: "0 */3 * * *"}))
	assert.True(t, ve.Has("services[vigicrues].config.cron"), ve.Error())
	assert.True(t, ve.Has("services[vigicrues].config.mongo"), ve.Error())

	ve = problems(t, krawler.Teleray(krawler.TelerayConfig{Cron: "every day", DBURL: "mongodb://u:pw@db:27017/x", TTL: -time.Second}))
	assert.True(t, ve.Has("services[teleray].config.cron"), ve.Error())
	assert.True(t, ve.Has("services[teleray].config.dbURL"), ve.Error())
	assert.True(t, ve.Has("services[teleray].config.ttl"), ve.Error())
}

func TestGenericJob(t *testing.T) {
	job := []byte("module.exports = { id: 'demo', tasks: [] }\n")
	svc := render(t, "demo", krawler.New(krawler.Config{
		Common: builder.Common{
			Name:      "demo",
			Placement: stack.Placement{Constraints: []string{"node.labels.jobs==true"}},
			Resources: stack.Resources{MemoryLimit: 256 * stack.MiB},
		},
		JobData: job, Cron: "0 0 * * * *", Run: true, DBURL: "mongodb://mongodb:27017/demo",
		Health: krawler.HealthConfig{SuccessRate: 0.5},
	}))
	cs := svc.Spec.TaskTemplate.ContainerSpec
	assert.Equal(t, "kalisio/krawler:1.2.0", cs.Image)
	assert.Equal(t, "0 0 * * * *", svc.Env()["CRON"])
	require.Len(t, cs.Configs, 1)
	assert.Equal(t, "/opt/krawler/jobfile.js", cs.Configs[0].File.Name)
	assert.Equal(t, []string{"sh", "-c", `set -e; exec node /opt/krawler --cron "$CRON" --run jobfile.js`}, cs.Args)
	assertKargoHealth(t, svc, "--success-rate", "0.5")
	assert.Equal(t, []string{"node.labels.jobs==true"}, svc.Spec.TaskTemplate.Placement.Constraints)
	assert.Equal(t, 256*stack.MiB, svc.Spec.TaskTemplate.Resources.Limits.MemoryBytes)
}

func TestGenericJobFromFileAndSlack(t *testing.T) {
	st := stack.New("t", krawler.New(krawler.Config{
		Job: "/deploy/jobs/jobfile-metar.js", Cron: "0 */30 * * * *",
		SlackWebhook: &stack.Secret{Env: "SLACK_WEBHOOK_URL"},
	}))
	d, err := swarmx.Render(st, swarmx.Source{
		ReadFile:  func(p string) ([]byte, error) { return []byte("module.exports = {}"), nil },
		LookupEnv: func(string) (string, bool) { return "https://hooks.example.org/x", true },
	})
	require.NoError(t, err)
	svc, _ := d.Service("krawler")
	cs := svc.Spec.TaskTemplate.ContainerSpec
	assert.Equal(t, "/opt/krawler/jobfile-metar.js", cs.Configs[0].File.Name)
	assert.Contains(t, cs.Args[2], "jobfile-metar.js")
	require.Len(t, cs.Secrets, 1)
	assert.Equal(t, "krawler-slack-webhook", cs.Secrets[0].File.Name)
	hc := cs.Healthcheck.Test
	assert.Equal(t, "CMD-SHELL", hc[0])
	assert.True(t, strings.HasPrefix(hc[1], `SLACK_WEBHOOK_URL="$(cat /run/secrets/krawler-slack-webhook)" && export SLACK_WEBHOOK_URL && exec 'node' '/opt/krawler/healthcheck.js' '--message-template' '*<%= SUBDOMAIN %>*`), hc[1])
	for _, kv := range cs.Env {
		assert.NotContains(t, kv, "hooks.example.org")
	}
}

func TestGenericProblems(t *testing.T) {
	ve := problems(t, krawler.New(krawler.Config{Health: krawler.HealthConfig{SuccessRate: 2}}))
	assert.True(t, ve.Has("services[krawler].config.job"), ve.Error())
	assert.True(t, ve.Has("services[krawler].config.cron"), ve.Error())
	assert.True(t, ve.Has("services[krawler].config.health.successRate"), ve.Error())
}

func TestFiveFieldCronMessage(t *testing.T) {
	ve := problems(t, krawler.Vigicrues(krawler.VigicruesConfig{Cron: "0 */3 * * *", DBURL: "mongodb://mongodb:27017/vigicrues"}))
	require.Len(t, ve.Problems, 1, ve.Error())
	assert.Equal(t, stack.Problem{
		Path:    "services[vigicrues].config.cron",
		Message: `"0 */3 * * *" has 5 fields: Krawler reads 6, seconds first (e.g. "0 0 */3 * * *")`,
	}, ve.Problems[0])

	// Other invalid patterns keep the parser's message.
	ve = problems(t, krawler.New(krawler.Config{JobData: []byte("x"), Cron: "61 * * * * *"}))
	require.Len(t, ve.Problems, 1, ve.Error())
	assert.Contains(t, ve.Problems[0].Message, `invalid 6-field cron "61 * * * * *"`)
}

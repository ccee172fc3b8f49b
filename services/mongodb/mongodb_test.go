package mongodb_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func render(t *testing.T, parts ...stack.Part) *swarmx.Desired {
	t.Helper()
	d, err := swarmx.Render(stack.New("t", parts...), swarmx.Source{})
	require.NoError(t, err)
	return d
}

func TestDefaults(t *testing.T) {
	m := mongodb.New(mongodb.Config{})
	d := render(t, m)
	svc, ok := d.Service("mongodb")
	require.True(t, ok)
	cs := svc.Spec.TaskTemplate.ContainerSpec

	assert.Equal(t, "mongo:4.4", cs.Image)
	assert.Equal(t, uint64(1), svc.Replicas())
	assert.Equal(t, "dnsrr", string(svc.Spec.EndpointSpec.Mode))
	assert.Empty(t, svc.Spec.EndpointSpec.Ports, "MongoDB is internal: no published port")

	// Data volume at /data/db.
	require.Len(t, cs.Mounts, 1)
	assert.Equal(t, "/data/db", cs.Mounts[0].Target)
	assert.Equal(t, "t_mongodb-data", cs.Mounts[0].Source)

	// Root credentials: the user in env, the password as a generated secret file only.
	env := svc.Env()
	assert.Equal(t, "root", env["MONGO_INITDB_ROOT_USERNAME"])
	assert.Equal(t, "/run/secrets/mongodb-root-password", env["MONGO_INITDB_ROOT_PASSWORD_FILE"])
	assert.NotContains(t, env, "MONGO_INITDB_ROOT_PASSWORD")
	require.Len(t, cs.Secrets, 1)
	assert.Equal(t, "t_mongodb-root-password", cs.Secrets[0].SecretName)
	assert.Equal(t, "mongodb-root-password", cs.Secrets[0].File.Name)
	// The entrypoint reads the file after `gosu mongodb`: uid 999 must be able to.
	assert.Equal(t, "999", cs.Secrets[0].File.UID)
	assert.Equal(t, uint32(0o400), uint32(cs.Secrets[0].File.Mode))
	require.Len(t, d.Secrets, 1)
	assert.Equal(t, 32, d.Secrets[0].Generate)

	// Health check pings and fails with a non-zero exit.
	hc := cs.Healthcheck
	require.NotNil(t, hc)
	assert.Equal(t, "CMD-SHELL", hc.Test[0])
	assert.Contains(t, hc.Test[1], `quit(db.adminCommand({ping: 1}).ok ? 0 : 1)`)
	assert.Contains(t, hc.Test[1], "mongosh")
	assert.Contains(t, hc.Test[1], "sh=mongo;")
	assert.Equal(t, 30*time.Second, hc.Interval)
	assert.Equal(t, 3, hc.Retries)

	// Resources default; cache sized for the 1 GiB limit.
	res := svc.Spec.TaskTemplate.Resources
	require.NotNil(t, res)
	assert.Equal(t, stack.GiB, res.Limits.MemoryBytes)
	assert.NotZero(t, res.Reservations.MemoryBytes)
	assert.Equal(t, []string{"mongod", "--wiredTigerCacheSizeGB", "0.25"}, cs.Args)
	assert.Nil(t, cs.Command, "the image entrypoint is kept")

	assert.Equal(t, "mongodb://mongodb:27017/weacast", m.URL("weacast"))
}

func TestCacheFollowsMemoryLimit(t *testing.T) {
	m := mongodb.New(mongodb.Config{Common: builder.Common{Resources: stack.Resources{MemoryLimit: 4 * stack.GiB}}})
	assert.Equal(t, []string{"mongod", "--wiredTigerCacheSizeGB", "1.5"}, m.Args)
	m = mongodb.New(mongodb.Config{Common: builder.Common{Resources: stack.Resources{MemoryLimit: 4 * stack.GiB}}, CacheSizeGB: 2})
	assert.Equal(t, []string{"mongod", "--wiredTigerCacheSizeGB", "2"}, m.Args)
}

func TestNoAuth(t *testing.T) {
	d := render(t, mongodb.New(mongodb.Config{Common: builder.Common{Name: "db"}, NoAuth: true}))
	svc, _ := d.Service("db")
	assert.NotContains(t, svc.Env(), "MONGO_INITDB_ROOT_USERNAME")
	assert.Empty(t, svc.Spec.TaskTemplate.ContainerSpec.Secrets)
	assert.Empty(t, d.Secrets)
}

func TestGivenPassword(t *testing.T) {
	m := mongodb.New(mongodb.Config{RootUser: "admin", RootPassword: stack.Secret{Name: "mongo-pw", Env: "MONGO_PW"}})
	st := stack.New("t", m)
	d, err := swarmx.Render(st, swarmx.Source{LookupEnv: func(k string) (string, bool) { return "s3cr3t", k == "MONGO_PW" }})
	require.NoError(t, err)
	svc, _ := d.Service("mongodb")
	assert.Equal(t, "/run/secrets/mongo-pw", svc.Env()["MONGO_INITDB_ROOT_PASSWORD_FILE"])
	assert.Equal(t, "admin", svc.Env()["MONGO_INITDB_ROOT_USERNAME"])
	for _, kv := range svc.Spec.TaskTemplate.ContainerSpec.Env {
		assert.NotContains(t, kv, "s3cr3t")
	}
	assert.NotContains(t, svc.Spec.TaskTemplate.ContainerSpec.Healthcheck.Test[1], "s3cr3t")
}

func TestReplicaSet(t *testing.T) {
	m := mongodb.New(mongodb.Config{Common: builder.Common{Name: "mongo0", Placement: stack.Placement{Constraints: []string{"node.labels.mongo0==true"}}}, ReplicaSet: "rs0", Members: []string{"mongo0:27017", "mongo1:27017"}})
	d := render(t, m)
	svc, _ := d.Service("mongo0")
	cs := svc.Spec.TaskTemplate.ContainerSpec
	assert.Equal(t, []string{"mongod", "--wiredTigerCacheSizeGB", "0.25", "--replSet", "rs0", "--keyFile", "/run/secrets/mongo0-keyfile"}, cs.Args)
	require.Len(t, cs.Secrets, 2)
	kf := cs.Secrets[1]
	assert.Equal(t, "mongo0-keyfile", kf.File.Name)
	assert.Equal(t, "999", kf.File.UID)
	assert.Equal(t, uint32(0o400), uint32(kf.File.Mode), "mongod rejects key files readable by group or others")
	hc := cs.Healthcheck.Test[1]
	assert.Contains(t, hc, `rs.initiate({_id: "rs0", members: [{_id: 0, host: "mongo0:27017"}, {_id: 1, host: "mongo1:27017"}]})`)
	assert.Contains(t, hc, `s.code === 94`)
	assert.Contains(t, hc, `var f = "/run/secrets/mongo0-root-password"`)
	assert.Contains(t, hc, `db.getSiblingDB("admin").auth("root", pw)`)
	assert.NotContains(t, hc, " -p ", "the password is read inside the client, not passed on its command line")
	assert.Equal(t, []string{"node.labels.mongo0==true"}, svc.Spec.TaskTemplate.Placement.Constraints)
	assert.Equal(t, "mongodb://mongo0:27017/app?replicaSet=rs0", m.URL("app"))
	c := m.Conn("app")
	assert.Equal(t, "mongodb://root@mongo0:27017/app?authSource=admin&replicaSet=rs0", c.URL())
}

func TestProblems(t *testing.T) {
	m := mongodb.New(mongodb.Config{Common: builder.Common{Replicas: 3}, ReplicaSet: "bad name", Args: []string{"--auth"}})
	err := stack.New("t", m).Validate()
	require.Error(t, err)
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.True(t, ve.Has("services[mongodb].config.replicas"), err.Error())
	assert.True(t, ve.Has("services[mongodb].config.replicaSet"), err.Error())
	assert.True(t, ve.Has("services[mongodb].config.args[0]"), err.Error())
}

func TestConnShellURL(t *testing.T) {
	m := mongodb.New(mongodb.Config{})
	c := m.Conn("weacast")
	assert.True(t, c.Authenticated())
	assert.Equal(t, "mongodb-root-password", c.PasswordSecret)
	u := c.ShellURL("/run/secrets/mongodb-root-password")
	assert.True(t, strings.HasPrefix(u, "mongodb://root:$(node -e "), u)
	assert.True(t, strings.HasSuffix(u, " '/run/secrets/mongodb-root-password')@mongodb:27017/weacast?authSource=admin"), u)
	assert.Contains(t, u, "encodeURIComponent")

	noauth := mongodb.New(mongodb.Config{NoAuth: true}).Conn("x")
	assert.Equal(t, "mongodb://mongodb:27017/x", noauth.ShellURL("/ignored"))
}

func TestEnvRefusesRootPassword(t *testing.T) {
	m := mongodb.New(mongodb.Config{Common: builder.Common{Env: map[string]string{
		"MONGO_INITDB_ROOT_PASSWORD":      "s3cr3t",
		"MONGO_INITDB_ROOT_PASSWORD_FILE": "/tmp/pw",
		"TZ":                              "UTC",
	}}})
	assert.NotContains(t, m.Env, "MONGO_INITDB_ROOT_PASSWORD", "the password never reaches the spec")
	assert.Equal(t, "/run/secrets/mongodb-root-password", m.Env["MONGO_INITDB_ROOT_PASSWORD_FILE"], "the builder's file wins")
	assert.Equal(t, "UTC", m.Env["TZ"])
	err := stack.New("t", m).Validate()
	require.Error(t, err)
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.True(t, ve.Has("services[mongodb].config.env.MONGO_INITDB_ROOT_PASSWORD"), err.Error())
	assert.True(t, ve.Has("services[mongodb].config.env.MONGO_INITDB_ROOT_PASSWORD_FILE"), err.Error())
	assert.NotContains(t, err.Error(), "s3cr3t")

	// NoAuth: still refused (the entrypoint would create a root user and add --auth).
	noauth := mongodb.New(mongodb.Config{Common: builder.Common{Env: map[string]string{"MONGO_INITDB_ROOT_PASSWORD": "x"}}, NoAuth: true})
	assert.NotEmpty(t, noauth.Problems)
	assert.NotContains(t, noauth.Env, "MONGO_INITDB_ROOT_PASSWORD")
}

func TestHasPassword(t *testing.T) {
	for u, want := range map[string]bool{
		"mongodb://mongodb:27017/weacast":                      false,
		"mongodb://root@mongodb:27017/weacast":                 false,
		"mongodb://root:pw@mongodb:27017/weacast":              true,
		"mongodb://root:@mongodb:27017/weacast":                true,
		"mongodb://root:p%40ss@a:27017,b:27017/x?replicaSet=r": true,
		"mongodb+srv://u:pw@cluster.example.org/db":            true,
		"mongodb://a:27017/db?authSource=admin&x=u:p@q":        false,
		"postgres://u:pw@db/x":                                 false,
		"":                                                     false,
	} {
		assert.Equal(t, want, mongodb.HasPassword(u), u)
	}
}

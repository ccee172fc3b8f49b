package builder_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/stack"
)

var defaults = builder.Defaults{
	Name: "tileserv", Image: "kargo/tileserv:1",
	Resources: stack.Resources{CPULimit: 1, MemoryLimit: 256 * stack.MiB},
}

func TestBaseFallsBackOnDefaults(t *testing.T) {
	svc := builder.Base(builder.Common{}, defaults)
	assert.Equal(t, "tileserv", svc.Name)
	assert.Equal(t, "kargo/tileserv:1", svc.Image)
	assert.Equal(t, uint64(1), *svc.Replicas)
	assert.Equal(t, defaults.Resources, svc.Resources)
	assert.NotNil(t, svc.Env)
	assert.Empty(t, svc.Networks)
}

func TestBaseTakesCommonAndCopiesIt(t *testing.T) {
	c := builder.Common{
		Name: "tiles", Image: "example/tileserv:2", Replicas: 3,
		Env:       map[string]string{"A": "1"},
		Placement: stack.Placement{Constraints: []string{"node.role==worker"}},
		Resources: stack.Resources{CPULimit: 2},
		Networks:  []string{"back"},
	}
	svc := builder.Base(c, defaults)
	assert.Equal(t, "tiles", svc.Name)
	assert.Equal(t, "example/tileserv:2", svc.Image)
	assert.Equal(t, uint64(3), *svc.Replicas)
	assert.Equal(t, c.Placement, svc.Placement)
	assert.Equal(t, c.Resources, svc.Resources)
	svc.Env["B"] = "2"
	svc.Networks[0] = "front"
	assert.Equal(t, map[string]string{"A": "1"}, c.Env, "the caller's env is not changed")
	assert.Equal(t, []string{"back"}, c.Networks, "the caller's networks are not changed")
}

func TestRefuseEnv(t *testing.T) {
	svc := builder.Base(builder.Common{Env: map[string]string{"PGPASSWORD": "x", "PGHOST": "db"}}, defaults)
	builder.RefuseEnv(svc, "Password", "PGPASSWORD")
	assert.Equal(t, map[string]string{"PGHOST": "db"}, svc.Env)
	st := stack.New("s", svc)
	err := st.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "services[tileserv].config.env.PGPASSWORD")
	assert.Contains(t, err.Error(), "set Config.Password")
}

func TestSecretDefaultsAndMount(t *testing.T) {
	assert.Equal(t, stack.Secret{Name: "tileserv-password", Generate: 32}, builder.Secret(nil, "tileserv-password", 32))
	given := &stack.Secret{Env: "PW"}
	assert.Equal(t, stack.Secret{Name: "tileserv-password", Env: "PW"}, builder.Secret(given, "tileserv-password", 32))
	named := &stack.Secret{Name: "mine", File: "pw.txt"}
	assert.Equal(t, *named, builder.Secret(named, "tileserv-password", 32))

	svc := builder.Base(builder.Common{}, defaults)
	p := builder.DeclareSecret(svc, builder.Secret(nil, "pw", 32))
	assert.Equal(t, "/run/secrets/pw", p)
	assert.Equal(t, "/run/secrets/pw", builder.MountSecret(svc, "pw"), "mounting twice is one mount")
	assert.Len(t, svc.Secrets, 1)
	assert.Len(t, svc.Declares.Secrets, 1)
	require.NoError(t, stack.New("s", svc).Validate())
}

func TestSecretPath(t *testing.T) {
	assert.Equal(t, "/run/secrets/db-password", stack.SecretPath("db-password"))
	assert.Equal(t, "/etc/key.pem", stack.SecretPath("/etc/key.pem"))
}

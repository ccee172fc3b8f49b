package swarmx_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func composeStack() *stack.Stack {
	db := svc("db")
	db.Mounts = []stack.Mount{{Source: "pgdata", Target: "/data"}, {Type: stack.TmpfsMount, Target: "/tmp", TmpfsSize: 1 << 20}}
	db.Secrets = []stack.FileRef{{Source: "pgpass"}}
	db.Networks = []string{"back"}
	db.Aliases = []string{"postgres"}
	db.Health = &stack.Health{Test: []string{"CMD-SHELL", "pg_isready"}, Interval: 10 * time.Second}
	db.Resources = stack.Resources{CPULimit: 1.5, MemoryLimit: 2 * stack.GiB, MemoryReservation: 512 * stack.MiB}
	db.Placement = stack.Placement{Constraints: []string{"node.labels.db==true"}, Spread: []string{"node.labels.zone"}}
	db.StopGracePeriod = 30 * time.Second
	db.Labels = map[string]string{"backup": "daily"}
	ms := svc("mapserver")
	ms.Replicas = stack.Ptr(uint64(2))
	ms.Ports = []stack.Port{{Target: 80, Published: 8080}}
	ms.Configs = []stack.FileRef{{Source: "mapfile", Target: "/etc/mapserver/app.map"}}
	ms.Command = []string{"/entry"}
	ms.Args = []string{"serve"}
	ms.Env = map[string]string{"MS_MAPFILE": "/etc/mapserver/app.map"}
	job := svc("loader")
	job.Mode = stack.ReplicatedJob
	job.Replicas = stack.Ptr(uint64(3))
	job.Schedule = "0 0 * * * *"
	agent := svc("agent")
	agent.Mode = stack.Global
	once := svc("once")
	once.Mode = stack.GlobalJob
	return stack.New("maps", db, ms, job, agent, once,
		stack.Network{Name: "back", Internal: true},
		stack.Network{Name: "traefik", External: true},
		stack.Volume{Name: "pgdata", Labels: map[string]string{"keep": "yes"}},
		stack.Secret{Name: "pgpass", Data: []byte("pg-secret")},
		stack.Secret{Name: "gen", Generate: 16},
		stack.Secret{Name: "tls", External: true},
		stack.Config{Name: "mapfile", Data: []byte("MAP END")},
	)
}

func TestToCompose(t *testing.T) {
	d := render(t, composeStack())
	c := swarmx.ToCompose(d)
	assert.Equal(t, "3.8", c.Version)
	require.Len(t, c.Services, 5)

	db := c.Services["db"]
	assert.Equal(t, "example/db:1", db.Image)
	assert.Equal(t, "replicated", db.Deploy.Mode)
	assert.Equal(t, uint64(1), *db.Deploy.Replicas)
	assert.Equal(t, "dnsrr", db.Deploy.EndpointMode)
	assert.Equal(t, map[string]swarmx.ComposeNetRef{"back": {Aliases: []string{"postgres"}}}, db.Networks,
		"network keys are logical names; the service name is an implicit alias")
	assert.Equal(t, []swarmx.ComposeMount{
		{Type: "volume", Source: "pgdata", Target: "/data"},
		{Type: "tmpfs", Target: "/tmp", Tmpfs: map[string]int64{"size": 1 << 20}},
	}, db.Volumes)
	require.Len(t, db.Secrets, 1)
	assert.Equal(t, swarmx.ComposeFileRef{Source: "pgpass", Target: "pgpass", UID: "0", GID: "0", Mode: "0400"}, db.Secrets[0])
	assert.Equal(t, &swarmx.ComposeHealth{Test: []string{"CMD-SHELL", "pg_isready"}, Interval: "10s"}, db.Healthcheck)
	assert.Equal(t, &swarmx.ComposeResources{
		Limits:       &swarmx.ComposeResource{CPUs: "1.5", Memory: "2147483648b"},
		Reservations: &swarmx.ComposeResource{Memory: "536870912b"},
	}, db.Deploy.Resources)
	assert.Equal(t, &swarmx.ComposePlacement{Constraints: []string{"node.labels.db==true"},
		Preferences: []map[string]string{{"spread": "node.labels.zone"}}}, db.Deploy.Placement)
	assert.Equal(t, "30s", db.StopGracePeriod)
	assert.Equal(t, "daily", db.Deploy.Labels["backup"])
	require.NotNil(t, db.Deploy.UpdateConfig)
	assert.Equal(t, "rollback", db.Deploy.UpdateConfig.FailureAction)
	assert.Equal(t, "any", db.Deploy.RestartPolicy.Condition)

	ms := c.Services["mapserver"]
	assert.Equal(t, uint64(2), *ms.Deploy.Replicas)
	assert.Equal(t, []swarmx.ComposePort{{Target: 80, Published: 8080, Protocol: "tcp", Mode: "host"}}, ms.Ports)
	assert.Equal(t, []string{"/entry"}, ms.Entrypoint)
	assert.Equal(t, []string{"serve"}, ms.Command)
	assert.Equal(t, []string{"MS_MAPFILE=/etc/mapserver/app.map"}, ms.Environment)
	assert.Equal(t, []swarmx.ComposeFileRef{{Source: "mapfile", Target: "/etc/mapserver/app.map", UID: "0", GID: "0", Mode: "0444"}}, ms.Configs)
	assert.Equal(t, map[string]swarmx.ComposeNetRef{"default": {}}, ms.Networks)
	assert.Equal(t, "stop-first", ms.Deploy.UpdateConfig.Order, "host ports")

	loader := c.Services["loader"]
	assert.Equal(t, "replicated-job", loader.Deploy.Mode)
	assert.Equal(t, uint64(3), *loader.Deploy.Replicas)
	assert.Nil(t, loader.Deploy.UpdateConfig)
	assert.Equal(t, "0 0 * * * *", loader.Deploy.Labels[stack.LabelSchedule])
	assert.Equal(t, "global", c.Services["agent"].Deploy.Mode)
	assert.Nil(t, c.Services["agent"].Deploy.Replicas)
	assert.Equal(t, "global-job", c.Services["once"].Deploy.Mode)

	// Top-level objects: logical keys, Swarm names, secret and config files beside the compose file.
	// Networks and volumes are named by docker stack deploy (<stack>_<key>), so the file can be
	// deployed under another stack name without sharing them.
	assert.Equal(t, swarmx.ComposeObject{Driver: "overlay", Attachable: true, Internal: true,
		Labels: map[string]string{stack.LabelName: "back"}}, c.Networks["back"])
	assert.Equal(t, swarmx.ComposeObject{Name: "traefik", External: true}, c.Networks["traefik"])
	assert.Empty(t, c.Volumes["pgdata"].Name)
	assert.Equal(t, "yes", c.Volumes["pgdata"].Labels["keep"])
	pg := c.Secrets["pgpass"]
	assert.Equal(t, "./secrets/pgpass", pg.File)
	assert.Equal(t, "maps_pgpass_v1", pg.Name, "WriteCompose picks the version")
	assert.Equal(t, "./secrets/gen", c.Secrets["gen"].File)
	assert.Equal(t, swarmx.ComposeObject{Name: "tls", External: true}, c.Secrets["tls"])
	assert.Equal(t, "./configs/mapfile", c.Configs["mapfile"].File)

	// No bookkeeping labels anywhere: a stack deployed from compose plans as "not applied by kargo".
	out, err := swarmx.MarshalCompose(c)
	require.NoError(t, err)
	for _, l := range []string{stack.LabelHash, stack.LabelLastApplied, stack.LabelNamespace} {
		assert.NotContains(t, string(out), l)
	}
	assert.NotContains(t, string(out), "pg-secret", "no secret value in the compose file")
}

func TestComposeYAMLRoundTrip(t *testing.T) {
	c := swarmx.ToCompose(render(t, composeStack()))
	b, err := swarmx.MarshalCompose(c)
	require.NoError(t, err)
	var back swarmx.Compose
	require.NoError(t, yaml.Unmarshal(b, &back))
	assert.Empty(t, cmp.Diff(c, &back))

	// It reads as a compose file: keys docker stack deploy knows.
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal(b, &raw))
	svcs := raw["services"].(map[string]any)
	loader := svcs["loader"].(map[string]any)
	deploy := loader["deploy"].(map[string]any)
	assert.Equal(t, "replicated-job", deploy["mode"])
	assert.Equal(t, 3, deploy["replicas"])
	db := svcs["db"].(map[string]any)
	assert.Equal(t, "dnsrr", db["deploy"].(map[string]any)["endpoint_mode"])
	assert.Contains(t, string(b), "stop_grace_period: 30s")
}

func TestWriteCompose(t *testing.T) {
	dir := t.TempDir()
	d := render(t, composeStack())
	file, err := swarmx.WriteCompose(d, dir)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "docker-compose.yml"), file)

	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var c swarmx.Compose
	require.NoError(t, yaml.Unmarshal(b, &c))
	assert.Len(t, c.Services, 5)

	check := func(rel, want string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, rel)
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		if want != "" {
			assert.Equal(t, want, string(got))
		}
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, mode, fi.Mode().Perm(), rel)
	}
	check("secrets/pgpass", "pg-secret", 0o600)
	check("secrets/gen", "", 0o600)
	check("configs/mapfile", "MAP END", 0o644)
	gen, _ := os.ReadFile(filepath.Join(dir, "secrets/gen"))
	assert.Len(t, gen, 16, "generated secrets get a fresh value of their length")
	_, err = os.Stat(filepath.Join(dir, "secrets/tls"))
	assert.True(t, os.IsNotExist(err), "external secrets are not written")

	// Every file a compose entry names exists, relative to the compose file.
	for name, s := range c.Secrets {
		if s.External {
			continue
		}
		_, err := os.Stat(filepath.Join(dir, strings.TrimPrefix(s.File, "./")))
		assert.NoError(t, err, name)
	}

	// An unwritable directory gives an error naming the stack.
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	_, err = swarmx.WriteCompose(d, blocker)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `stack "maps"`)
}

// docker stack deploy interpolates every value of a compose file: a `$` meant literally must
// be written `$$`, or `c=$(curl ...)` reaches the container as `c=(curl ...)`.
func TestComposeEscapesEveryDollar(t *testing.T) {
	ms := svc("mapserver")
	ms.Command = []string{"sh", "-c", `exec "$0" "$@"`}
	ms.Args = []string{"--price=$5", "${HOME}"}
	ms.Env = map[string]string{"PS1": `\u@\h $ `, "PLAIN": "no dollar"}
	ms.WorkDir = "/srv/$app"
	ms.Health = &stack.Health{Test: []string{"CMD-SHELL", `c=$(curl -fsS http://127.0.0.1/) && echo "$c" | grep -q ok`}}
	ms.Labels = map[string]string{"cost": "$$10"}
	ms.ContainerLabels = map[string]string{"tpl": "${name}"}
	ms.Placement = stack.Placement{Constraints: []string{"node.labels.tier==$gold"}}
	st := stack.New("maps", ms, stack.Network{Name: "back", Labels: map[string]string{"n": "$x"}})
	ms.Networks = []string{"back"}
	b, err := swarmx.MarshalCompose(swarmx.ToCompose(render(t, st)))
	require.NoError(t, err)

	// What docker stack deploy reads after interpolation: $$ becomes $, and no other $ is left.
	var raw any
	require.NoError(t, yaml.Unmarshal(b, &raw))
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			assert.NotContains(t, strings.ReplaceAll(x, "$$", ""), "$", "unescaped $ in %q", x)
			return strings.ReplaceAll(x, "$$", "$")
		}
		return v
	}
	m := walk(raw).(map[string]any)
	got := m["services"].(map[string]any)["mapserver"].(map[string]any)
	assert.Equal(t, []any{"sh", "-c", `exec "$0" "$@"`}, got["entrypoint"])
	assert.Equal(t, []any{"--price=$5", "${HOME}"}, got["command"])
	assert.ElementsMatch(t, []any{`PS1=\u@\h $ `, "PLAIN=no dollar"}, got["environment"])
	assert.Equal(t, "/srv/$app", got["working_dir"])
	assert.Equal(t, []any{"CMD-SHELL", `c=$(curl -fsS http://127.0.0.1/) && echo "$c" | grep -q ok`}, got["healthcheck"].(map[string]any)["test"])
	assert.Equal(t, "${name}", got["labels"].(map[string]any)["tpl"])
	deploy := got["deploy"].(map[string]any)
	assert.Equal(t, "$$10", deploy["labels"].(map[string]any)["cost"])
	assert.Equal(t, []any{"node.labels.tier==$gold"}, deploy["placement"].(map[string]any)["constraints"])
	assert.Equal(t, "$x", m["networks"].(map[string]any)["back"].(map[string]any)["labels"].(map[string]any)["n"])
	assert.Contains(t, string(b), `c=$$(curl`)
}

// Re-exporting over an older export makes its secret files 0600 in a 0700 directory, whatever
// modes they had; a symbolic link in place of a secret file or of the secrets directory is
// refused and the file it points to is left untouched.
func TestWriteComposeSecretModesAndLinks(t *testing.T) {
	d := render(t, composeStack())
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "secrets"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(dir, "secrets"), 0o755))
	old := filepath.Join(dir, "secrets", "pgpass")
	require.NoError(t, os.WriteFile(old, []byte("old"), 0o644))
	require.NoError(t, os.Chmod(old, 0o644))
	_, err := swarmx.WriteCompose(d, dir)
	require.NoError(t, err)
	fi, err := os.Stat(old)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "an existing secret file is made 0600")
	b, _ := os.ReadFile(old)
	assert.Equal(t, "pg-secret", string(b))
	di, err := os.Stat(filepath.Join(dir, "secrets"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm(), "the secrets directory is made 0700")

	// A link in place of the secret file.
	dir2 := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	require.NoError(t, os.WriteFile(target, []byte("untouched"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir2, "secrets"), 0o700))
	require.NoError(t, os.Symlink(target, filepath.Join(dir2, "secrets", "pgpass")))
	_, err = swarmx.WriteCompose(d, dir2)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "symbolic link")
	assert.Contains(t, err.Error(), `secret "pgpass"`)
	b, _ = os.ReadFile(target)
	assert.Equal(t, "untouched", string(b))

	// A link in place of the secrets directory.
	dir3 := t.TempDir()
	elsewhere := t.TempDir()
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir3, "secrets")))
	_, err = swarmx.WriteCompose(d, dir3)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "symbolic link")
	entries, _ := os.ReadDir(elsewhere)
	assert.Empty(t, entries, "nothing written through the link")
}

// An export names a versioned secret with a random version, reused by the next export while
// the content stays the same, so deploying it again changes nothing; changed content gets a
// new name, so docker stack deploy creates it rather than failing to update an immutable secret.
func TestWriteComposeSecretVersions(t *testing.T) {
	dir := t.TempDir()
	names := func(st *stack.Stack) (string, string) {
		t.Helper()
		file, err := swarmx.WriteCompose(render(t, st), dir)
		require.NoError(t, err)
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		var c swarmx.Compose
		require.NoError(t, yaml.Unmarshal(b, &c))
		return c.Secrets["pgpass"].Name, c.Secrets["gen"].Name
	}
	first, gen := names(composeStack())
	assert.Regexp(t, `^maps_pgpass_[0-9a-f]{10}$`, first)
	assert.Equal(t, "maps_gen", gen)
	again, _ := names(composeStack())
	assert.Equal(t, first, again, "unchanged content keeps its version")

	changed := composeStack()
	changed.Secrets[0].Data = []byte("another")
	third, _ := names(changed)
	assert.NotEqual(t, first, third)
	assert.Regexp(t, `^maps_pgpass_[0-9a-f]{10}$`, third)
	// Same content in a fresh directory: nothing says what the version was, so a new one.
	other, _ := swarmx.WriteCompose(render(t, composeStack()), t.TempDir())
	b, _ := os.ReadFile(other)
	assert.NotContains(t, string(b), first)
}

package kargotest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalisio/kargo/kargotest"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a kargotest.TB that records a fatal failure and stops the helper's goroutine,
// like testing.T does.
type recorder struct {
	mu     sync.Mutex
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls f with a recorder in its own goroutine and returns the recorder.
func run(f func(t kargotest.TB)) *recorder {
	r := &recorder{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f(r)
	}()
	wg.Wait()
	return r
}

func fullStack() *stack.Stack {
	db := &stack.Service{
		Name:            "db",
		Image:           "postgis/postgis:15-3.3",
		Env:             map[string]string{"POSTGRES_DB": "gis", "POSTGRES_PASSWORD_FILE": "/run/secrets/pgpass"},
		Mounts:          []stack.Mount{{Source: "pgdata", Target: "/var/lib/postgresql/data"}, {Type: stack.TmpfsMount, Target: "/tmp"}},
		Secrets:         []stack.FileRef{{Source: "pgpass"}, {Source: "tls", Target: "/etc/ssl/key.pem"}},
		Configs:         []stack.FileRef{{Source: "initdb", Target: "/docker-entrypoint-initdb.d/init.sql"}},
		Placement:       stack.Placement{Constraints: []string{"node.labels.db==true"}},
		Health:          &stack.Health{Test: []string{"CMD-SHELL", "pg_isready"}, Interval: 5 * time.Second},
		Labels:          map[string]string{"backup": "daily"},
		Resources:       stack.Resources{CPULimit: 2, MemoryLimit: stack.GiB},
		StopGracePeriod: time.Minute,
		Networks:        []string{"back"},
	}
	agent := &stack.Service{Name: "agent", Image: "agent:1", Mode: stack.Global}
	return stack.New("maps", db, agent,
		stack.Network{Name: "back"},
		stack.Secret{Name: "pgpass", Env: "PGPASSWORD"},
		stack.Secret{Name: "tls", File: "/etc/ssl/private/key.pem"},
		stack.Config{Name: "initdb", Data: []byte("CREATE EXTENSION postgis;")},
	)
}

func TestServiceAccessors(t *testing.T) {
	r := kargotest.Render(t, fullStack())
	assert.Equal(t, []string{"db", "agent"}, r.Services())
	assert.Equal(t, []string{"maps_back", "maps_default"}, r.Networks())
	assert.Equal(t, []string{"maps_pgdata"}, r.Volumes())
	assert.Equal(t, []string{"pgpass", "tls"}, r.Secrets())

	db := r.Service("db")
	assert.Equal(t, "maps_db", db.Name())
	assert.Equal(t, "postgis/postgis:15-3.3", db.Image())
	assert.Equal(t, stack.Replicated, db.Mode())
	assert.Equal(t, uint64(1), db.Replicas())
	assert.Equal(t, "gis", db.Env("POSTGRES_DB"))
	assert.True(t, db.HasEnv("POSTGRES_PASSWORD_FILE"))
	assert.False(t, db.HasEnv("POSTGRES_PASSWORD"), "passwords are files, never env values")
	assert.Len(t, db.EnvMap(), 2)
	assert.Empty(t, db.Ports())
	assert.Equal(t, []kargotest.Mount{
		{Type: "volume", Source: "maps_pgdata", Target: "/var/lib/postgresql/data"},
		{Type: "tmpfs", Target: "/tmp"},
	}, db.Mounts())
	assert.Equal(t, "maps_pgdata", db.Mount("/var/lib/postgresql/data").Source)
	assert.Equal(t, map[string]string{"pgpass": "/run/secrets/pgpass", "tls": "/etc/ssl/key.pem"}, db.SecretTargets())
	assert.Equal(t, []string{"/docker-entrypoint-initdb.d/init.sql"}, db.ConfigTargets())
	assert.Equal(t, []string{"node.labels.db==true"}, db.Constraints())
	require.NotNil(t, db.Health())
	assert.Equal(t, []string{"CMD-SHELL", "pg_isready"}, db.Health().Test)
	assert.Equal(t, 5*time.Second, db.Health().Interval)
	labels := db.Labels()
	assert.Equal(t, "daily", labels["backup"])
	assert.Equal(t, "maps", labels[stack.LabelNamespace])
	assert.NotContains(t, labels, stack.LabelHash)
	assert.NotContains(t, labels, stack.LabelLastApplied)
	assert.Equal(t, []string{"maps_back"}, db.Networks())
	assert.Equal(t, int64(stack.GiB), db.MemoryLimit())
	assert.Equal(t, 2.0, db.CPULimit())
	assert.Equal(t, time.Minute, db.StopGracePeriod())
	assert.Equal(t, "maps_db", db.Spec().Name)

	agent := r.Service("agent")
	assert.Equal(t, stack.Global, agent.Mode())
	assert.Zero(t, agent.Replicas())
	assert.Nil(t, agent.Health())
	assert.Nil(t, agent.Constraints())
	assert.Zero(t, agent.MemoryLimit())
	assert.Zero(t, agent.CPULimit())
	assert.Zero(t, agent.StopGracePeriod())
	assert.Empty(t, agent.SecretTargets())
}

func TestModes(t *testing.T) {
	for _, m := range []stack.Mode{stack.Replicated, stack.Global, stack.ReplicatedJob, stack.GlobalJob} {
		s := &stack.Service{Name: "a", Image: "x", Mode: m}
		assert.Equal(t, m, kargotest.Render(t, stack.New("s", s)).Service("a").Mode())
	}
}

func TestPlaceholderSecrets(t *testing.T) {
	r := kargotest.Render(t, fullStack())
	data := map[string]string{}
	for _, s := range r.Desired.Secrets {
		data[s.Logical] = string(s.Spec.Data)
	}
	assert.Equal(t, map[string]string{"pgpass": "kargotest-env:PGPASSWORD", "tls": "kargotest-file:/etc/ssl/private/key.pem"}, data)
}

func TestRenderFailures(t *testing.T) {
	t.Run("invalid stack", func(t *testing.T) {
		rec := run(func(tb kargotest.TB) {
			kargotest.Render(tb, stack.New("maps", &stack.Service{Name: "a"}))
			panic("Render returned after Fatalf")
		})
		assert.True(t, rec.failed)
		assert.Contains(t, rec.msg, "services[a].image: is required")
	})
	t.Run("nil stack", func(t *testing.T) {
		rec := run(func(tb kargotest.TB) { kargotest.Render(tb, nil) })
		assert.True(t, rec.failed)
		assert.Contains(t, rec.msg, "nil")
	})
	t.Run("render error with a real source", func(t *testing.T) {
		rec := run(func(tb kargotest.TB) {
			kargotest.Render(tb, fullStack(), kargotest.WithSource(swarmx.Source{
				LookupEnv: func(string) (string, bool) { return "", false },
			}))
		})
		assert.True(t, rec.failed)
		assert.Contains(t, rec.msg, "secrets[pgpass].env")
		assert.Contains(t, rec.msg, "PGPASSWORD is not set")
	})
	t.Run("with source", func(t *testing.T) {
		r := kargotest.Render(t, stack.New("maps", &stack.Service{Name: "a", Image: "x"}, stack.Secret{Name: "pw", Env: "PW"}),
			kargotest.WithSource(swarmx.Source{LookupEnv: func(string) (string, bool) { return "real", true }}))
		assert.Equal(t, []byte("real"), r.Desired.Secrets[0].Spec.Data)
	})
}

func TestMissingServiceFails(t *testing.T) {
	r := kargotest.Render(t, fullStack())
	rec := run(func(tb kargotest.TB) {
		r2 := kargotest.Render(tb, fullStack())
		r2.Service("mapserver")
		panic("Service returned after Fatalf")
	})
	assert.True(t, rec.failed)
	assert.Contains(t, rec.msg, `stack "maps" has no service "mapserver"`)
	assert.Contains(t, rec.msg, "db, agent")
	assert.NotNil(t, r.Service("db"))
}

func TestAccessorFailures(t *testing.T) {
	rec := run(func(tb kargotest.TB) { kargotest.Render(tb, fullStack()).Service("db").Env("NOPE") })
	assert.True(t, rec.failed)
	assert.Contains(t, rec.msg, "no environment variable NOPE")
	assert.Contains(t, rec.msg, "POSTGRES_DB, POSTGRES_PASSWORD_FILE")

	rec = run(func(tb kargotest.TB) { kargotest.Render(tb, fullStack()).Service("db").Mount("/nowhere") })
	assert.True(t, rec.failed)
	assert.Contains(t, rec.msg, "mounts nothing at /nowhere")
}

func TestInvalid(t *testing.T) {
	bad := func() *stack.Stack {
		return stack.New("maps", &stack.Service{Name: "a", Image: "x", Mode: stack.Global, Replicas: stack.Ptr(uint64(2))})
	}
	p := kargotest.Invalid(t, bad(), "services[a].replicas")
	assert.Equal(t, "services[a].replicas", p.Path)
	assert.Contains(t, p.Message, "cannot be set for mode global")

	rec := run(func(tb kargotest.TB) { kargotest.Invalid(tb, bad(), "services[a].image") })
	assert.True(t, rec.failed)
	assert.Contains(t, rec.msg, "no problem at services[a].image")
	assert.Contains(t, rec.msg, "services[a].replicas: cannot be set", "lists the problems the stack has")

	rec = run(func(tb kargotest.TB) { kargotest.Invalid(tb, fullStack(), "services[db].replicas") })
	assert.True(t, rec.failed)
	assert.True(t, strings.HasPrefix(rec.msg, "kargotest: stack is valid"))
}

func TestValid(t *testing.T) {
	kargotest.Valid(t, fullStack())
	rec := run(func(tb kargotest.TB) { kargotest.Valid(tb, stack.New("Bad", &stack.Service{Name: "a", Image: "x"})) })
	assert.True(t, rec.failed)
	assert.Contains(t, rec.msg, "not a valid stack name")
}

func TestWorksWithTestingTB(t *testing.T) {
	var tb testing.TB = t
	kargotest.Valid(tb, fullStack())
	assert.Equal(t, uint64(1), kargotest.Render(tb, fullStack()).Service("db").Replicas())
}

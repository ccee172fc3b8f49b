package stack_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// svc returns a minimal valid service.
func svc(name string) *stack.Service {
	return &stack.Service{Name: name, Image: "example/" + name + ":1"}
}

// problems validates st and returns its problems, failing when it is valid.
func problems(t *testing.T, st *stack.Stack) []stack.Problem {
	t.Helper()
	err := st.Validate()
	require.Error(t, err, "stack should be invalid")
	var ve *stack.ValidationError
	require.True(t, errors.As(err, &ve), "want *stack.ValidationError, got %T: %v", err, err)
	require.NotEmpty(t, ve.Problems)
	return ve.Problems
}

// requireProblem asserts a problem at exactly path whose message contains msg.
func requireProblem(t *testing.T, ps []stack.Problem, path, msg string) {
	t.Helper()
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Message, msg) {
			return
		}
	}
	t.Fatalf("no problem at %q containing %q; got:\n%s", path, msg, dump(ps))
}

func dump(ps []stack.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

func TestValidateValidStack(t *testing.T) {
	db := svc("db")
	db.Mounts = []stack.Mount{{Source: "pgdata", Target: "/var/lib/postgresql/data"}}
	db.Secrets = []stack.FileRef{{Source: "pgpass"}}
	db.Env = map[string]string{"POSTGRES_PASSWORD_FILE": "/run/secrets/pgpass"}
	db.Health = &stack.Health{Test: []string{"CMD-SHELL", "pg_isready"}}
	db.Resources = stack.Resources{CPULimit: 1, MemoryLimit: stack.GiB, CPUReservation: 0.5, MemoryReservation: 512 * stack.MiB}
	db.Declares.Secrets = []stack.Secret{{Name: "pgpass", Data: []byte("s3cret")}}
	db.Declares.Volumes = []stack.Volume{{Name: "pgdata"}}

	ms := svc("mapserver")
	ms.Replicas = stack.Ptr(uint64(2))
	ms.Ports = []stack.Port{{Target: 80, Published: 8080, Mode: stack.IngressPort}}
	ms.DependsOn = []string{"db"}
	ms.Configs = []stack.FileRef{{Source: "mapfile", Target: "/etc/mapserver/app.map"}}
	ms.Endpoints = []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms"}}
	ms.Networks = []string{"front", stack.DefaultNetwork}

	job := svc("loader")
	job.Mode = stack.ReplicatedJob
	job.MaxConcurrent = 1
	job.Schedule = "0 */10 * * * *"

	agent := svc("agent")
	agent.Mode = stack.Global

	st := stack.New("maps", db, ms, job, agent,
		stack.Config{Name: "mapfile", Data: []byte("MAP END")},
		stack.Network{Name: "front"})
	assert.NoError(t, st.Validate())
}

func TestValidateNilStack(t *testing.T) {
	var st *stack.Stack
	ps := problems(t, st)
	requireProblem(t, ps, "stack", "is nil")
}

// TestValidateRules has one failing case per rule of validate.go and per struct tag.
func TestValidateRules(t *testing.T) {
	tests := []struct {
		name  string
		build func() *stack.Stack
		path  string
		msg   string
	}{
		// Struct tags.
		{"stack name required", func() *stack.Stack { return stack.New("", svc("a")) }, "name", "is required"},
		{"service name required", func() *stack.Stack { return stack.New("s", &stack.Service{Image: "x"}) }, "services[0].name", "is required"},
		{"image required", func() *stack.Stack { return stack.New("s", &stack.Service{Name: "a"}) }, "services[a].image", "is required"},
		{"mode oneof", func() *stack.Stack { s := svc("a"); s.Mode = "cron"; return stack.New("s", s) }, "services[a].mode", `one of replicated, global, replicated-job, global-job, got "cron"`},
		{"endpoint mode oneof", func() *stack.Stack { s := svc("a"); s.EndpointMode = "lb"; return stack.New("s", s) }, "services[a].endpointMode", `got "lb"`},
		{"mount type oneof", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Type: "nfs", Source: "x", Target: "/x"}}
			return stack.New("s", s)
		}, "services[a].mounts[0].type", `got "nfs"`},
		{"mount target required", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Source: "x"}}
			return stack.New("s", s)
		}, "services[a].mounts[0].target", "is required"},
		{"mount target absolute", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Source: "x", Target: "data"}}
			return stack.New("s", s)
		}, "services[a].mounts[0].target", `must start with "/"`},
		{"tmpfs size >= 0", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Type: stack.TmpfsMount, Target: "/tmp", TmpfsSize: -1}}
			return stack.New("s", s)
		}, "services[a].mounts[0].tmpfsSize", "must be >= 0"},
		{"port target required", func() *stack.Stack { s := svc("a"); s.Ports = []stack.Port{{}}; return stack.New("s", s) }, "services[a].ports[0].target", "is required"},
		{"port target <= 65535", func() *stack.Stack {
			s := svc("a")
			s.Ports = []stack.Port{{Target: 70000}}
			return stack.New("s", s)
		}, "services[a].ports[0].target", "must be <= 65535"},
		{"published <= 65535", func() *stack.Stack {
			s := svc("a")
			s.Ports = []stack.Port{{Target: 80, Published: 65536}}
			return stack.New("s", s)
		}, "services[a].ports[0].published", "must be <= 65535"},
		{"protocol oneof", func() *stack.Stack {
			s := svc("a")
			s.Ports = []stack.Port{{Target: 80, Protocol: "icmp"}}
			return stack.New("s", s)
		}, "services[a].ports[0].protocol", `got "icmp"`},
		{"port mode oneof", func() *stack.Stack {
			s := svc("a")
			s.Ports = []stack.Port{{Target: 80, Mode: "mesh"}}
			return stack.New("s", s)
		}, "services[a].ports[0].mode", `got "mesh"`},
		{"secret ref source required", func() *stack.Stack {
			s := svc("a")
			s.Secrets = []stack.FileRef{{Target: "x"}}
			return stack.New("s", s)
		}, "services[a].secrets[0].source", "is required"},
		{"file mode <= 0777", func() *stack.Stack {
			s := svc("a")
			s.Secrets = []stack.FileRef{{Source: "p", Mode: 0o1777}}
			return stack.New("s", s, stack.Secret{Name: "p", Data: []byte("x")})
		}, "services[a].secrets[0].mode", "must be <= 511"},
		{"resources >= 0", func() *stack.Stack {
			s := svc("a")
			s.Resources.CPULimit = -1
			return stack.New("s", s)
		}, "services[a].resources.cpuLimit", "must be >= 0"},
		{"memory reservation >= 0", func() *stack.Stack {
			s := svc("a")
			s.Resources.MemoryReservation = -1
			return stack.New("s", s)
		}, "services[a].resources.memoryReservation", "must be >= 0"},
		{"health test required", func() *stack.Stack { s := svc("a"); s.Health = &stack.Health{}; return stack.New("s", s) }, "services[a].health.test", "is required"},
		{"health retries >= 0", func() *stack.Stack {
			s := svc("a")
			s.Health = &stack.Health{Test: []string{"NONE"}, Retries: -1}
			return stack.New("s", s)
		}, "services[a].health.retries", "must be >= 0"},
		{"update order oneof", func() *stack.Stack {
			s := svc("a")
			s.Update = &stack.UpdatePolicy{Order: "random"}
			return stack.New("s", s)
		}, "services[a].update.order", `got "random"`},
		{"update failure action oneof", func() *stack.Stack {
			s := svc("a")
			s.Update = &stack.UpdatePolicy{FailureAction: "panic"}
			return stack.New("s", s)
		}, "services[a].update.failureAction", `got "panic"`},
		{"rollback max failure ratio <= 1", func() *stack.Stack {
			s := svc("a")
			s.Rollback = &stack.UpdatePolicy{MaxFailureRatio: 1.5}
			return stack.New("s", s)
		}, "services[a].rollback.maxFailureRatio", "must be <= 1"},
		{"restart condition oneof", func() *stack.Stack {
			s := svc("a")
			s.Restart = &stack.RestartPolicy{Condition: "always"}
			return stack.New("s", s)
		}, "services[a].restart.condition", `got "always"`},
		{"endpoint kind", func() *stack.Stack {
			s := svc("a")
			s.Endpoints = []stack.Endpoint{{Kind: "WPS", Port: 80, Path: "/"}}
			return stack.New("s", s)
		}, "services[a].endpoints[0].kind", `got "WPS"`},
		{"endpoint port required", func() *stack.Stack {
			s := svc("a")
			s.Endpoints = []stack.Endpoint{{Kind: stack.WMS, Path: "/wms"}}
			return stack.New("s", s)
		}, "services[a].endpoints[0].port", "is required"},
		{"endpoint path absolute", func() *stack.Stack {
			s := svc("a")
			s.Endpoints = []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "wms"}}
			return stack.New("s", s)
		}, "services[a].endpoints[0].path", `must start with "/"`},
		{"network name required", func() *stack.Stack { return stack.New("s", svc("a"), stack.Network{}) }, "networks[0].name", "is required"},
		{"volume name required", func() *stack.Stack { return stack.New("s", svc("a"), stack.Volume{}) }, "volumes[0].name", "is required"},
		{"config name required", func() *stack.Stack {
			return stack.New("s", svc("a"), stack.Config{Data: []byte("x")})
		}, "configs[0].name", "is required"},
		{"secret generate <= 4096", func() *stack.Stack {
			return stack.New("s", svc("a"), stack.Secret{Name: "big", Generate: 5000})
		}, "secrets[big].generate", "must be <= 4096"},
		{"declared secret generate >= 0 under the service path", func() *stack.Stack {
			s := svc("a")
			s.Declares.Secrets = []stack.Secret{{Name: "pw", Data: []byte("x"), Generate: -1}}
			return stack.New("s", s)
		}, "services[a].declares.secrets[pw].generate", "must be >= 0"},

		// Names.
		{"invalid stack name", func() *stack.Stack { return stack.New("My_Maps", svc("a")) }, "name", "not a valid stack name"},
		{"stack name with trailing dash", func() *stack.Stack { return stack.New("maps-", svc("a")) }, "name", "not a valid stack name"},
		{"upper-case service name", func() *stack.Stack { return stack.New("s", svc("MapServer")) }, "services[MapServer].name", "not a valid service name"},
		{"underscore in service name", func() *stack.Stack { return stack.New("s", svc("map_server")) }, "services[map_server].name", "not a valid service name"},
		{"service name too long", func() *stack.Stack {
			return stack.New("maps", svc(strings.Repeat("a", 60)))
		}, "services[" + strings.Repeat("a", 60) + "].name", "the limit is 63"},
		{"duplicate service names", func() *stack.Stack { return stack.New("s", svc("a"), svc("a")) }, "services[a]", "declared twice"},
		{"nil service", func() *stack.Stack { return &stack.Stack{Name: "s", Services: []*stack.Service{svc("a"), nil}} }, "services[1]", "is nil"},
		{"invalid network name", func() *stack.Stack { return stack.New("s", svc("a"), stack.Network{Name: "-net"}) }, "networks[-net].name", "not a valid network name"},
		{"invalid secret name", func() *stack.Stack {
			return stack.New("s", svc("a"), stack.Secret{Name: "a b", Data: []byte("x")})
		}, "secrets[a b].name", "not a valid secret name"},

		// Modes, replicas, jobs, schedules.
		{"replicas on global", func() *stack.Stack {
			s := svc("a")
			s.Mode = stack.Global
			s.Replicas = stack.Ptr(uint64(2))
			return stack.New("s", s)
		}, "services[a].replicas", "cannot be set for mode global"},
		{"replicas on global-job", func() *stack.Stack {
			s := svc("a")
			s.Mode = stack.GlobalJob
			s.Replicas = stack.Ptr(uint64(0))
			return stack.New("s", s)
		}, "services[a].replicas", "cannot be set for mode global-job"},
		{"max replicas per node on global", func() *stack.Stack {
			s := svc("a")
			s.Mode = stack.Global
			s.Placement.MaxReplicasPerNode = 1
			return stack.New("s", s)
		}, "services[a].placement.maxReplicasPerNode", "cannot be set for mode global"},
		{"max concurrent on a service", func() *stack.Stack {
			s := svc("a")
			s.MaxConcurrent = 2
			return stack.New("s", s)
		}, "services[a].maxConcurrent", "only applies to mode replicated-job, not replicated"},
		{"schedule on non-job", func() *stack.Stack {
			s := svc("a")
			s.Schedule = "0 * * * * *"
			return stack.New("s", s)
		}, "services[a].schedule", "needs a job mode"},
		{"bad cron", func() *stack.Stack {
			s := svc("a")
			s.Mode = stack.ReplicatedJob
			s.Schedule = "every minute"
			return stack.New("s", s)
		}, "services[a].schedule", `invalid 6-field cron schedule "every minute"`},
		{"5-field cron", func() *stack.Stack {
			s := svc("a")
			s.Mode = stack.ReplicatedJob
			s.Schedule = "*/10 * * * *"
			return stack.New("s", s)
		}, "services[a].schedule", "invalid 6-field cron schedule"},
		{"job with ports", func() *stack.Stack {
			s := svc("a")
			s.Mode = stack.GlobalJob
			s.Ports = []stack.Port{{Target: 80}}
			return stack.New("s", s)
		}, "services[a].ports", "a job cannot publish ports"},

		// Env, labels, resources.
		{"invalid env name", func() *stack.Stack {
			s := svc("a")
			s.Env = map[string]string{"A=B": "x"}
			return stack.New("s", s)
		}, "services[a].env", `invalid variable name "A=B"`},
		{"invalid label key", func() *stack.Stack {
			s := svc("a")
			s.Labels = map[string]string{"my label": "x"}
			return stack.New("s", s)
		}, "services[a].labels", `invalid label key "my label"`},
		{"cpu reservation > limit", func() *stack.Stack {
			s := svc("a")
			s.Resources = stack.Resources{CPULimit: 0.5, CPUReservation: 1}
			return stack.New("s", s)
		}, "services[a].resources.cpuReservation", "exceeds the limit"},
		{"memory reservation > limit", func() *stack.Stack {
			s := svc("a")
			s.Resources = stack.Resources{MemoryLimit: 64 * stack.MiB, MemoryReservation: 128 * stack.MiB}
			return stack.New("s", s)
		}, "services[a].resources.memoryReservation", "exceeds the limit"},
		{"memory limit below 4 MiB", func() *stack.Stack {
			s := svc("a")
			s.Resources = stack.Resources{MemoryLimit: 1024}
			return stack.New("s", s)
		}, "services[a].resources.memoryLimit", "below Docker's 4 MiB minimum"},

		// Mounts.
		{"volume mount without source", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Target: "/data"}}
			return stack.New("s", s)
		}, "services[a].mounts[0].source", "needs a volume name"},
		{"invalid volume name", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Source: "/srv/data", Target: "/data"}}
			return stack.New("s", s)
		}, "services[a].mounts[0].source", "not a valid volume name"},
		{"relative bind mount", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Type: stack.BindMount, Source: "./data", Target: "/data"}}
			return stack.New("s", s)
		}, "services[a].mounts[0].source", "absolute host path"},
		{"tmpfs with source", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Type: stack.TmpfsMount, Source: "x", Target: "/tmp"}}
			return stack.New("s", s)
		}, "services[a].mounts[0].source", "must be empty for a tmpfs mount"},
		{"tmpfs size on a volume", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Source: "x", Target: "/x", TmpfsSize: 1024}}
			return stack.New("s", s)
		}, "services[a].mounts[0].tmpfsSize", "only applies to tmpfs mounts"},
		{"two mounts on one target", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Source: "x", Target: "/data"}, {Source: "y", Target: "/data"}}
			return stack.New("s", s)
		}, "services[a].mounts[1].target", `target "/data" is already used by services[a].mounts[0].target`},
		{"secret on a mount target", func() *stack.Stack {
			s := svc("a")
			s.Mounts = []stack.Mount{{Type: stack.TmpfsMount, Target: "/run/secrets/pw"}}
			s.Secrets = []stack.FileRef{{Source: "pw"}}
			return stack.New("s", s, stack.Secret{Name: "pw", Data: []byte("x")})
		}, "services[a].secrets[0].target", "already used"},

		// Secrets and configs.
		{"secret used but not declared", func() *stack.Stack {
			s := svc("a")
			s.Secrets = []stack.FileRef{{Source: "pgpass"}}
			return stack.New("s", s)
		}, "services[a].secrets[0].source", `secret "pgpass" is used but not declared`},
		{"relative secret target with a directory", func() *stack.Stack {
			s := svc("a")
			s.Secrets = []stack.FileRef{{Source: "pw", Target: "db/pw"}}
			return stack.New("s", s, stack.Secret{Name: "pw", Data: []byte("x")})
		}, "services[a].secrets[0].target", "file name under /run/secrets or an absolute path"},
		{"config used but not declared", func() *stack.Stack {
			s := svc("a")
			s.Configs = []stack.FileRef{{Source: "mapfile", Target: "/etc/app.map"}}
			return stack.New("s", s)
		}, "services[a].configs[0].source", `config "mapfile" is used but not declared`},
		{"config target not absolute", func() *stack.Stack {
			s := svc("a")
			s.Configs = []stack.FileRef{{Source: "mapfile", Target: "app.map"}}
			return stack.New("s", s, stack.Config{Name: "mapfile", Data: []byte("x")})
		}, "services[a].configs[0].target", `absolute target path, got "app.map"`},
		{"config target missing", func() *stack.Stack {
			s := svc("a")
			s.Configs = []stack.FileRef{{Source: "mapfile"}}
			return stack.New("s", s, stack.Config{Name: "mapfile", Data: []byte("x")})
		}, "services[a].configs[0].target", "absolute target path"},
		{"secret with no source", func() *stack.Stack { return stack.New("s", svc("a"), stack.Secret{Name: "pw"}) }, "secrets[pw]", "needs exactly one of data, file, env, generate or external (has 0)"},
		{"secret with two sources", func() *stack.Stack {
			return stack.New("s", svc("a"), stack.Secret{Name: "pw", Data: []byte("x"), Env: "PW"})
		}, "secrets[pw]", "(has 2)"},
		{"declared secret with two sources", func() *stack.Stack {
			s := svc("a")
			s.Declares.Secrets = []stack.Secret{{Name: "pw", File: "/pw", Generate: 16}}
			return stack.New("s", s)
		}, "services[a].declares.secrets[pw]", "(has 2)"},
		{"config with no source", func() *stack.Stack { return stack.New("s", svc("a"), stack.Config{Name: "c"}) }, "configs[c]", "needs exactly one of data, file or external (has 0"},
		{"secret declared twice differently", func() *stack.Stack {
			s := svc("a")
			s.Declares.Secrets = []stack.Secret{{Name: "pw", Data: []byte("y")}}
			return stack.New("s", s, stack.Secret{Name: "pw", Data: []byte("x")})
		}, "services[a].declares.secrets[pw]", `secret "pw" is declared again with a different definition (first at secrets[pw])`},
		{"volume declared twice differently", func() *stack.Stack {
			a, b := svc("a"), svc("b")
			a.Declares.Volumes = []stack.Volume{{Name: "data"}}
			b.Declares.Volumes = []stack.Volume{{Name: "data", Driver: "nfs"}}
			return stack.New("s", a, b)
		}, "services[b].declares.volumes[data]", "declared again with a different definition"},

		// Networks.
		{"network used but not declared", func() *stack.Stack {
			s := svc("a")
			s.Networks = []string{"front"}
			return stack.New("s", s)
		}, "services[a].networks[0]", `network "front" is used but not declared`},

		// Health.
		{"health test kind", func() *stack.Stack {
			s := svc("a")
			s.Health = &stack.Health{Test: []string{"curl", "-f", "localhost"}}
			return stack.New("s", s)
		}, "services[a].health.test", `must start with CMD, CMD-SHELL or NONE, got "curl"`},
		{"health CMD without command", func() *stack.Stack {
			s := svc("a")
			s.Health = &stack.Health{Test: []string{"CMD"}}
			return stack.New("s", s)
		}, "services[a].health.test", "CMD needs a command"},

		// Dependencies.
		{"unknown depends-on", func() *stack.Stack {
			s := svc("a")
			s.DependsOn = []string{"db"}
			return stack.New("s", s)
		}, "services[a].dependsOn[0]", `unknown service "db"`},
		{"depends on itself", func() *stack.Stack {
			s := svc("a")
			s.DependsOn = []string{"a"}
			return stack.New("s", s)
		}, "services[a].dependsOn[0]", "cannot depend on itself"},
		{"cycle", func() *stack.Stack {
			a, b, c := svc("a"), svc("b"), svc("c")
			a.DependsOn = []string{"b"}
			b.DependsOn = []string{"c"}
			c.DependsOn = []string{"a"}
			return stack.New("s", a, b, c)
		}, "services[a].dependsOn", "dependency cycle: a -> b -> c -> a"},

		// Ports.
		{"port published twice", func() *stack.Stack {
			a, b := svc("a"), svc("b")
			a.Ports = []stack.Port{{Target: 80}}
			b.Ports = []stack.Port{{Target: 8080, Published: 80}}
			return stack.New("s", a, b)
		}, "services[b].ports[0].published", "port 80/tcp is already published by services[a].ports[0].published"},
		{"port published twice by one service", func() *stack.Stack {
			a := svc("a")
			a.Ports = []stack.Port{{Target: 80, Published: 8080}, {Target: 81, Published: 8080}}
			return stack.New("s", a)
		}, "services[a].ports[1].published", "already published"},

		// Builder problems.
		{"builder problem", func() *stack.Stack {
			s := svc("weacast")
			s.Problemf("config.models[2]", "unknown model %q", "gfs-0.1")
			return stack.New("s", s)
		}, "services[weacast].config.models[2]", `unknown model "gfs-0.1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problems(t, tt.build())
			requireProblem(t, ps, tt.path, tt.msg)
		})
	}
}

func TestValidateNotProblems(t *testing.T) {
	// Close calls of the rules above that are fine.
	tests := []struct {
		name  string
		build func() *stack.Stack
	}{
		{"same port on udp and tcp", func() *stack.Stack {
			a, b := svc("a"), svc("b")
			a.Ports = []stack.Port{{Target: 53}}
			b.Ports = []stack.Port{{Target: 53, Protocol: "udp"}}
			return stack.New("s", a, b)
		}},
		{"same declaration twice", func() *stack.Stack {
			a, b := svc("a"), svc("b")
			a.Declares.Volumes = []stack.Volume{{Name: "data"}}
			b.Declares.Volumes = []stack.Volume{{Name: "data"}}
			return stack.New("s", a, b)
		}},
		{"replicas 0 on replicated", func() *stack.Stack {
			a := svc("a")
			a.Replicas = stack.Ptr(uint64(0))
			return stack.New("s", a)
		}},
		{"cron descriptor", func() *stack.Stack {
			a := svc("a")
			a.Mode = stack.GlobalJob
			a.Schedule = "@hourly"
			return stack.New("s", a)
		}},
		{"absolute secret target", func() *stack.Stack {
			a := svc("a")
			a.Secrets = []stack.FileRef{{Source: "pw", Target: "/etc/pw"}}
			return stack.New("s", a, stack.Secret{Name: "pw", Env: "PW"})
		}},
		{"external objects", func() *stack.Stack {
			a := svc("a")
			a.Networks = []string{"traefik"}
			a.Secrets = []stack.FileRef{{Source: "tls"}}
			return stack.New("s", a, stack.Network{Name: "traefik", External: true}, stack.Secret{Name: "tls", External: true})
		}},
		{"name of 63 characters", func() *stack.Stack {
			return stack.New("s", svc(strings.Repeat("a", 61)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.NoError(t, tt.build().Validate())
		})
	}
}

func TestValidateAllProblemsAtOnce(t *testing.T) {
	a := svc("a")
	a.Replicas = stack.Ptr(uint64(1))
	a.Mode = stack.Global
	a.DependsOn = []string{"ghost"}
	a.Secrets = []stack.FileRef{{Source: "nope"}}
	b := svc("b")
	b.Image = ""
	b.Schedule = "bad"
	b.Resources = stack.Resources{CPULimit: 1, CPUReservation: 2}
	st := stack.New("Bad Name", a, b, stack.Secret{Name: "pw"})

	err := st.Validate()
	require.Error(t, err)
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "Bad Name", ve.Stack)

	want := []string{
		"name",
		"secrets[pw]",
		"services[a].dependsOn[0]",
		"services[a].replicas",
		"services[a].secrets[0].source",
		"services[b].image",
		"services[b].resources.cpuReservation",
		"services[b].schedule",
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Path)
	}
	for _, w := range want {
		assert.Contains(t, got, w)
	}
	// Sorted by path, one per line in the message, which names the stack.
	assert.IsNonDecreasing(t, got)
	msg := err.Error()
	assert.Contains(t, msg, `stack "Bad Name" is invalid`)
	for _, p := range ve.Problems {
		assert.Contains(t, msg, p.String())
	}
}

func TestValidateDoesNotModify(t *testing.T) {
	a := svc("a")
	st := stack.New("s", a)
	require.NoError(t, st.Validate())
	assert.Nil(t, a.Replicas)
	assert.Empty(t, a.Networks)
	assert.Empty(t, st.Networks)
}

func TestFindCycle(t *testing.T) {
	a, b, c := svc("a"), svc("b"), svc("c")
	a.DependsOn = []string{"b"}
	b.DependsOn = []string{"a"}
	assert.Equal(t, []string{"a", "b", "a"}, stack.FindCycle([]*stack.Service{a, b, c}))

	b.DependsOn = []string{"c"}
	assert.Nil(t, stack.FindCycle([]*stack.Service{a, b, c}))

	// Self-dependencies and unknown services are reported by other rules, not as cycles.
	c.DependsOn = []string{"c", "ghost"}
	assert.Nil(t, stack.FindCycle([]*stack.Service{a, b, c, nil}))
}

func TestValidateIsDeterministic(t *testing.T) {
	build := func() *stack.Stack {
		a := svc("a")
		a.Env = map[string]string{"": "1", "A=B": "2", "C=D": "3", "E=F": "4"}
		a.Labels = map[string]string{"x y": "1", "p q": "2", "m n": "3"}
		return stack.New("s", a)
	}
	first := build().Validate().Error()
	for i := 0; i < 50; i++ {
		require.Equal(t, first, build().Validate().Error(), "problems came out in another order")
	}
}

func TestValidateNonFiniteNumbers(t *testing.T) {
	svc := &stack.Service{Name: "api", Image: "busybox",
		Resources: stack.Resources{CPULimit: math.Inf(1), CPUReservation: math.NaN()},
		Update:    &stack.UpdatePolicy{MaxFailureRatio: float32(math.Inf(1))},
		Rollback:  &stack.UpdatePolicy{MaxFailureRatio: float32(math.NaN())}}
	st := stack.New("maps", svc)
	require.NotPanics(t, func() { st.Defaulted() })
	err := st.Validate()
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	for _, p := range []string{"services[api].resources.cpuLimit", "services[api].resources.cpuReservation",
		"services[api].update.maxFailureRatio", "services[api].rollback.maxFailureRatio"} {
		assert.True(t, ve.Has(p), "no problem at %s in %v", p, err)
	}
}

func TestDefaultedKeepsNilAndEmptyApart(t *testing.T) {
	st := stack.New("maps", &stack.Service{Name: "api", Image: "busybox", Env: map[string]string{}},
		stack.Secret{Name: "empty", Data: []byte{}})
	d := st.Defaulted()
	require.NotNil(t, d.Secrets[0].Data, "an empty secret still has data")
	assert.NotNil(t, d.Services[0].Env)
	assert.Nil(t, d.Services[0].Labels)
	d.Services[0].Env["X"] = "1"
	assert.Empty(t, st.Services[0].Env, "the copy shares no map with the original")
	assert.NoError(t, st.Validate())
}

// Names and values Swarm would reject are caught before anything is applied.
func TestValidateWhatSwarmRejects(t *testing.T) {
	long := strings.Repeat("x", 50)
	svc := &stack.Service{Name: "api", Image: "UPPER CASE:: bad",
		Placement: stack.Placement{Constraints: []string{"node.role==manager", "garbage", "node.labels.a==b==c"},
			Spread: []string{"node.labels.zone", "zone"}},
		Labels:          map[string]string{"com.docker.stack.namespace": "other", "io.kargo.product": "ok"},
		ContainerLabels: map[string]string{"io.kargo.run.last": "x"},
	}
	svc.Declares.Secrets = []stack.Secret{{Name: long, Data: []byte("v")}, {Name: "gen-", Generate: 8}}
	svc.Declares.Configs = []stack.Config{{Name: long, Data: []byte("v")}}
	st := stack.New("maps", svc, stack.Network{Name: "back", Labels: map[string]string{"io.kargo.hash": "x"}})
	st.Labels = map[string]string{"io.kargo.name": "x"}
	var ve *stack.ValidationError
	require.ErrorAs(t, st.Validate(), &ve)
	for path, msg := range map[string]string{
		"services[api].image":                               "not a valid image reference",
		"services[api].placement.constraints[1]":            `"garbage" is not a constraint`,
		"services[api].placement.constraints[2]":            "is not a constraint",
		"services[api].placement.spread[1]":                 "not a spread descriptor",
		"services[api].labels":                              `label "com.docker.stack.namespace" is managed by Kargo`,
		"services[api].containerLabels":                     `label "io.kargo.run.last" is managed by Kargo`,
		"services[api].declares.secrets[" + long + "].name": "would be 66 characters long, the limit is 64",
		"services[api].declares.secrets[gen-].name":         `Swarm rejects the secret name "maps_gen-"`,
		"services[api].declares.configs[" + long + "].name": "would be 66 characters long",
		"networks[back].labels":                             `label "io.kargo.hash" is managed by Kargo`,
		"labels":                                            `label "io.kargo.name" is managed by Kargo`,
	} {
		found := false
		for _, p := range ve.Problems {
			if p.Path == path && strings.Contains(p.Message, msg) {
				found = true
			}
		}
		assert.True(t, found, "no problem %q at %s in:\n%v", msg, path, ve)
	}
	for _, p := range ve.Problems {
		assert.NotEqual(t, "services[api].placement.constraints[0]", p.Path, "a valid constraint was rejected")
		assert.NotEqual(t, "services[api].placement.spread[0]", p.Path, "a valid spread was rejected")
		assert.NotContains(t, p.Message, "io.kargo.product", "builders' own io.kargo.* labels are allowed")
	}
}

package stack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
)

// Values the engine rejects only once networks, secrets and configs exist (or accepts and
// misreads) are refused by Validate, each at its path.
func TestValidateInputs(t *testing.T) {
	with := func(f func(s *stack.Service)) func() *stack.Stack {
		return func() *stack.Stack {
			a := svc("a")
			f(a)
			return stack.New("s", a, svc("b"), stack.Secret{Name: "pw", Env: "PW"}, stack.Config{Name: "cfg", Data: []byte("x")})
		}
	}
	tests := []struct {
		name  string
		build func() *stack.Stack
		path  string
		msg   string
	}{
		{"negative health interval", with(func(s *stack.Service) {
			s.Health = &stack.Health{Test: []string{"NONE"}, Interval: -time.Second}
		}), "services[a].health.interval", "must not be negative"},
		{"negative health timeout", with(func(s *stack.Service) {
			s.Health = &stack.Health{Test: []string{"NONE"}, Timeout: -1}
		}), "services[a].health.timeout", "must not be negative"},
		{"negative start period", with(func(s *stack.Service) {
			s.Health = &stack.Health{Test: []string{"NONE"}, StartPeriod: -time.Minute}
		}), "services[a].health.startPeriod", "must not be negative"},
		{"health interval below 1ms", with(func(s *stack.Service) {
			s.Health = &stack.Health{Test: []string{"NONE"}, Interval: time.Microsecond}
		}), "services[a].health.interval", "at least 1ms"},
		{"negative stop grace period", with(func(s *stack.Service) { s.StopGracePeriod = -time.Second }),
			"services[a].stopGracePeriod", "must not be negative"},
		{"negative update delay", with(func(s *stack.Service) { s.Update = &stack.UpdatePolicy{Delay: -time.Second} }),
			"services[a].update.delay", "must not be negative"},
		{"negative update monitor", with(func(s *stack.Service) { s.Update = &stack.UpdatePolicy{Monitor: -time.Second} }),
			"services[a].update.monitor", "must not be negative"},
		{"negative rollback monitor", with(func(s *stack.Service) { s.Rollback = &stack.UpdatePolicy{Monitor: -time.Second} }),
			"services[a].rollback.monitor", "must not be negative"},
		{"env key with a space", with(func(s *stack.Service) { s.Env = map[string]string{"A B": "x"} }),
			"services[a].env", `invalid variable name "A B"`},
		{"env key with =", with(func(s *stack.Service) { s.Env = map[string]string{"A=B": "x"} }),
			"services[a].env", `invalid variable name "A=B"`},
		{"env key with a newline", with(func(s *stack.Service) { s.Env = map[string]string{"A\nB": "x"} }),
			"services[a].env", `invalid variable name "A\nB"`},
		{"env key with a tab", with(func(s *stack.Service) { s.Env = map[string]string{"A\tB": "x"} }),
			"services[a].env", `invalid variable name`},
		{"NUL in an env value", with(func(s *stack.Service) { s.Env = map[string]string{"A": "x\x00y"} }),
			"services[a].env", `value of "A" holds a NUL byte`},
		{"hostname with a space", with(func(s *stack.Service) { s.Hostname = "my host" }),
			"services[a].hostname", "not a valid host name"},
		{"hostname with an underscore", with(func(s *stack.Service) { s.Hostname = "my_host" }),
			"services[a].hostname", "not a valid host name"},
		{"hostname ending with -", with(func(s *stack.Service) { s.Hostname = "host-" }),
			"services[a].hostname", "not a valid host name"},
		{"hostname too long", with(func(s *stack.Service) { s.Hostname = strings.Repeat("a.", 40) + "a" }),
			"services[a].hostname", "not a valid host name"},
		{"alias of another service", with(func(s *stack.Service) { s.Aliases = []string{"b"} }),
			"services[a].aliases[0]", "name of another service"},
		{"alias not a DNS name", with(func(s *stack.Service) { s.Aliases = []string{"x;y"} }),
			"services[a].aliases[0]", "not a valid DNS name"},
		{"mount targets /x and /x/", with(func(s *stack.Service) {
			s.Mounts = []stack.Mount{{Source: "v1", Target: "/x"}, {Source: "v2", Target: "/x/"}}
		}), "services[a].mounts[1].target", `target "/x" is already used by services[a].mounts[0].target`},
		{"mount and secret on the same file", with(func(s *stack.Service) {
			s.Mounts = []stack.Mount{{Type: stack.TmpfsMount, Target: "/run/secrets/pw/"}}
			s.Secrets = []stack.FileRef{{Source: "pw"}}
		}), "services[a].secrets[0].target", "already used"},
		{"mount target /", with(func(s *stack.Service) { s.Mounts = []stack.Mount{{Source: "v", Target: "/"}} }),
			"services[a].mounts[0].target", "cannot be /"},
		{"mount target with ..", with(func(s *stack.Service) { s.Mounts = []stack.Mount{{Source: "v", Target: "/data/../etc"}} }),
			"services[a].mounts[0].target", "'..' segment"},
		{"secret target ..", with(func(s *stack.Service) { s.Secrets = []stack.FileRef{{Source: "pw", Target: ".."}} }),
			"services[a].secrets[0].target", "leaves /run/secrets"},
		{"secret target .", with(func(s *stack.Service) { s.Secrets = []stack.FileRef{{Source: "pw", Target: "."}} }),
			"services[a].secrets[0].target", "leaves /run/secrets"},
		{"secret target with ..", with(func(s *stack.Service) {
			s.Secrets = []stack.FileRef{{Source: "pw", Target: "/run/secrets/../../etc/shadow"}}
		}), "services[a].secrets[0].target", "'..' segment"},
		{"config target with ..", with(func(s *stack.Service) {
			s.Configs = []stack.FileRef{{Source: "cfg", Target: "/etc/app/../passwd"}}
		}), "services[a].configs[0].target", "'..' segment"},
		{"CPU limit that overflows NanoCPUs", with(func(s *stack.Service) { s.Resources.CPULimit = 1e12 }),
			"services[a].resources.cpuLimit", "beyond the bound of 1024"},
		{"CPU reservation beyond the bound", with(func(s *stack.Service) { s.Resources.CPUReservation = 5000 }),
			"services[a].resources.cpuReservation", "beyond the bound of 1024"},
		{"replicas beyond the bound", with(func(s *stack.Service) { s.Replicas = stack.Ptr(uint64(1_000_000)) }),
			"services[a].replicas", "beyond the bound of 1000"},
		{"max concurrent beyond the bound", with(func(s *stack.Service) {
			s.Mode, s.MaxConcurrent = stack.ReplicatedJob, 5000
		}), "services[a].maxConcurrent", "beyond the bound of 1000"},
		{"bind mount of /", with(func(s *stack.Service) {
			s.Mounts = []stack.Mount{{Type: stack.BindMount, Source: "/", Target: "/host"}}
		}), "services[a].mounts[0].source", "is the host's root"},
		{"bind mount of / spelled /.", with(func(s *stack.Service) {
			s.Mounts = []stack.Mount{{Type: stack.BindMount, Source: "/.", Target: "/host", ReadOnly: true}}
		}), "services[a].mounts[0].source", "is the host's root"},
		{"bind mount of the Docker socket", with(func(s *stack.Service) {
			s.Mounts = []stack.Mount{{Type: stack.BindMount, Source: "/var/run/docker.sock", Target: "/var/run/docker.sock", ReadOnly: true}}
		}), "services[a].mounts[0].source", "is the Docker socket"},
		{"bind mount of /run/docker.sock", with(func(s *stack.Service) {
			s.Mounts = []stack.Mount{{Type: stack.BindMount, Source: "/run/docker.sock", Target: "/d.sock"}}
		}), "services[a].mounts[0].source", "is the Docker socket"},
		{"bind mount of the socket's directory", with(func(s *stack.Service) {
			s.Mounts = []stack.Mount{{Type: stack.BindMount, Source: "/var/run/", Target: "/host-run"}}
		}), "services[a].mounts[0].source", "holds the Docker socket"},
		{"generated secret of 1 character", func() *stack.Stack {
			return stack.New("s", svc("a"), stack.Secret{Name: "pw", Generate: 1})
		}, "secrets[pw].generate", "at least 16 characters, got 1"},
		{"declared generated secret of 15 characters", with(func(s *stack.Service) {
			s.Declares.Secrets = []stack.Secret{{Name: "key", Generate: 15}}
		}), "services[a].declares.secrets[key].generate", "at least 16 characters, got 15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireProblem(t, problems(t, tt.build()), tt.path, tt.msg)
		})
	}
}

// Close calls of the rules above that are fine.
func TestValidateInputsAccepted(t *testing.T) {
	a := svc("a")
	a.Hostname = "ms-{{.Task.Slot}}"
	a.Aliases = []string{"a", "maps.internal"}
	a.Env = map[string]string{"A": "multi\nline value with spaces and = signs", "lower_case.dotted": "x"}
	a.Health = &stack.Health{Test: []string{"CMD", "true"}, Interval: time.Millisecond}
	a.Mounts = []stack.Mount{
		{Type: stack.BindMount, Source: "/var/run/docker.sock", Target: "/var/run/docker.sock", ReadOnly: true, HostControl: true},
		{Type: stack.BindMount, Source: "/var/lib/app", Target: "/app"},
		{Type: stack.BindMount, Source: "/run/user", Target: "/user"},
		{Source: "data", Target: "/x..y/..z"},
	}
	a.Secrets = []stack.FileRef{{Source: "pw", Target: "..pw"}}
	a.Replicas = stack.Ptr(uint64(stack.MaxReplicas))
	a.Resources = stack.Resources{CPULimit: stack.MaxCPUs, CPUReservation: 0.5}
	st := stack.New("s", a, svc("b"), stack.Secret{Name: "pw", Generate: stack.MinGenerate})
	assert.NoError(t, st.Validate())
}

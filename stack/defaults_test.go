package stack_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultedService(t *testing.T) {
	tests := []struct {
		name  string
		in    func(*stack.Service)
		check func(t *testing.T, s *stack.Service)
	}{
		{"plain service", func(*stack.Service) {}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, stack.Replicated, s.Mode)
			require.NotNil(t, s.Replicas)
			assert.Equal(t, uint64(1), *s.Replicas)
			assert.Equal(t, stack.DNSRR, s.EndpointMode)
			assert.Equal(t, []string{stack.DefaultNetwork}, s.Networks)
			require.NotNil(t, s.Update)
			assert.Equal(t, stack.StartFirst, s.Update.Order, "no host port: start-first")
			assert.Equal(t, uint64(1), s.Update.Parallelism)
			assert.Equal(t, "rollback", s.Update.FailureAction)
			assert.Equal(t, stack.DefaultUpdateMonitor, s.Update.Monitor)
			require.NotNil(t, s.Rollback)
			assert.Equal(t, stack.StartFirst, s.Rollback.Order)
			assert.Equal(t, "pause", s.Rollback.FailureAction)
			assert.Equal(t, uint64(1), s.Rollback.Parallelism)
			assert.Equal(t, stack.DefaultRollbackMonitor, s.Rollback.Monitor)
			require.NotNil(t, s.Restart)
			assert.Equal(t, stack.RestartPolicy{Condition: "any", Delay: stack.DefaultRestartDelay}, *s.Restart,
				"a long-running service restarts whatever its exit code")
		}},
		{"explicit values kept", func(s *stack.Service) {
			s.Replicas = stack.Ptr(uint64(0))
			s.EndpointMode = stack.VIP
			s.Networks = []string{"front"}
			s.Update = &stack.UpdatePolicy{Parallelism: 3, Order: stack.StopFirst, FailureAction: "pause", Monitor: time.Minute}
			s.Restart = &stack.RestartPolicy{Condition: "any"}
		}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, uint64(0), *s.Replicas)
			assert.Equal(t, stack.VIP, s.EndpointMode)
			assert.Equal(t, []string{"front"}, s.Networks)
			assert.Equal(t, stack.UpdatePolicy{Parallelism: 3, Order: stack.StopFirst, FailureAction: "pause", Monitor: time.Minute}, *s.Update)
			assert.Equal(t, "any", s.Restart.Condition)
			assert.Zero(t, s.Restart.Delay, "a given restart policy is not completed beyond its condition")
		}},
		{"restart policy without condition", func(s *stack.Service) {
			s.Restart = &stack.RestartPolicy{MaxAttempts: 4}
		}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, stack.RestartPolicy{Condition: "any", MaxAttempts: 4}, *s.Restart)
		}},
		{"host-mode ports publish the target", func(s *stack.Service) {
			s.Ports = []stack.Port{{Target: 80}, {Target: 8080, Published: 9090}}
		}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, []stack.Port{
				{Target: 80, Published: 80, Protocol: "tcp", Mode: stack.HostPort},
				{Target: 8080, Published: 9090, Protocol: "tcp", Mode: stack.HostPort},
			}, s.Ports)
			assert.Equal(t, stack.StopFirst, s.Update.Order, "two tasks cannot hold one host port")
			assert.Equal(t, stack.StopFirst, s.Rollback.Order)
		}},
		{"ingress ports keep published 0 and start-first", func(s *stack.Service) {
			s.Ports = []stack.Port{{Target: 80, Mode: stack.IngressPort, Protocol: "udp"}}
		}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, []stack.Port{{Target: 80, Published: 0, Protocol: "udp", Mode: stack.IngressPort}}, s.Ports)
			assert.Equal(t, stack.StartFirst, s.Update.Order)
		}},
		{"explicit order wins over host ports", func(s *stack.Service) {
			s.Ports = []stack.Port{{Target: 80}}
			s.Update = &stack.UpdatePolicy{Order: stack.StartFirst}
		}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, stack.StartFirst, s.Update.Order)
			assert.Equal(t, stack.StopFirst, s.Rollback.Order)
		}},
		{"a stop-first update rolls back stop-first", func(s *stack.Service) {
			s.Update = &stack.UpdatePolicy{Order: stack.StopFirst}
		}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, stack.StopFirst, s.Update.Order)
			assert.Equal(t, stack.StopFirst, s.Rollback.Order)
		}},
		{"monitor window from the health check", func(s *stack.Service) {
			s.Health = &stack.Health{Test: []string{"CMD", "true"}, Interval: 10 * time.Second, Retries: 5, StartPeriod: 30 * time.Second}
		}, func(t *testing.T, s *stack.Service) {
			// interval × (retries+1): the start period passes before the task counts as running
			assert.Equal(t, 60*time.Second, s.Update.Monitor)
		}},
		{"monitor window with Docker's health defaults", func(s *stack.Service) {
			s.Health = &stack.Health{Test: []string{"CMD-SHELL", "true"}}
		}, func(t *testing.T, s *stack.Service) {
			// interval 30s, retries 3
			assert.Equal(t, 120*time.Second, s.Update.Monitor)
		}},
		{"short health check keeps the minimum window", func(s *stack.Service) {
			s.Health = &stack.Health{Test: []string{"CMD", "true"}, Interval: time.Second, Retries: 1}
		}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, stack.DefaultUpdateMonitor, s.Update.Monitor)
		}},
		{"health NONE keeps the default window", func(s *stack.Service) {
			s.Health = &stack.Health{Test: []string{"NONE"}, Interval: time.Hour}
		}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, stack.DefaultUpdateMonitor, s.Update.Monitor)
		}},
		{"replicated job", func(s *stack.Service) {
			s.Mode = stack.ReplicatedJob
		}, func(t *testing.T, s *stack.Service) {
			require.NotNil(t, s.Replicas)
			assert.Equal(t, uint64(1), *s.Replicas)
			assert.Nil(t, s.Update, "Swarm rejects update policies on jobs")
			assert.Nil(t, s.Rollback)
			require.NotNil(t, s.Restart)
			assert.Equal(t, stack.RestartPolicy{Condition: "on-failure", Delay: stack.DefaultRestartDelay, MaxAttempts: 3}, *s.Restart)
		}},
		{"global job has no replicas", func(s *stack.Service) {
			s.Mode = stack.GlobalJob
		}, func(t *testing.T, s *stack.Service) {
			assert.Nil(t, s.Replicas)
			assert.Equal(t, uint64(3), s.Restart.MaxAttempts)
		}},
		{"global service has no replicas", func(s *stack.Service) {
			s.Mode = stack.Global
		}, func(t *testing.T, s *stack.Service) {
			assert.Nil(t, s.Replicas)
			assert.NotNil(t, s.Update)
		}},
		{"mounts default to volumes", func(s *stack.Service) {
			s.Mounts = []stack.Mount{{Source: "data", Target: "/data"}, {Type: stack.TmpfsMount, Target: "/tmp"}}
		}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, stack.VolumeMount, s.Mounts[0].Type)
			assert.Equal(t, stack.TmpfsMount, s.Mounts[1].Type)
		}},
		{"secret and config file defaults", func(s *stack.Service) {
			s.Secrets = []stack.FileRef{{Source: "pw"}, {Source: "key", Target: "/etc/key", UID: "999", Mode: 0o440}}
			s.Configs = []stack.FileRef{{Source: "map", Target: "/etc/app.map"}}
		}, func(t *testing.T, s *stack.Service) {
			assert.Equal(t, stack.FileRef{Source: "pw", Target: "pw", UID: "0", GID: "0", Mode: stack.DefaultSecretMode}, s.Secrets[0])
			assert.Equal(t, stack.FileRef{Source: "key", Target: "/etc/key", UID: "999", GID: "0", Mode: 0o440}, s.Secrets[1])
			assert.Equal(t, stack.FileRef{Source: "map", Target: "/etc/app.map", UID: "0", GID: "0", Mode: stack.DefaultConfigMode}, s.Configs[0])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := svc("a")
			tt.in(s)
			d := stack.New("maps", s).Defaulted()
			out := d.Service("a")
			require.NotNil(t, out)
			tt.check(t, out)
		})
	}
}

func TestDefaultedNetworks(t *testing.T) {
	t.Run("default network added when used", func(t *testing.T) {
		d := stack.New("maps", svc("a")).Defaulted()
		require.Len(t, d.Networks, 1)
		n := d.Networks[0]
		assert.Equal(t, stack.DefaultNetwork, n.Name)
		assert.Equal(t, "overlay", n.Driver)
		require.NotNil(t, n.Attachable)
		assert.True(t, *n.Attachable)
	})
	t.Run("not added when no service uses it", func(t *testing.T) {
		a := svc("a")
		a.Networks = []string{"front"}
		d := stack.New("maps", a, stack.Network{Name: "front", Attachable: stack.Ptr(false)}).Defaulted()
		require.Len(t, d.Networks, 1)
		assert.Equal(t, "front", d.Networks[0].Name)
		assert.False(t, *d.Networks[0].Attachable, "explicit attachable=false kept")
	})
	t.Run("not added twice when declared", func(t *testing.T) {
		d := stack.New("maps", svc("a"), stack.Network{Name: stack.DefaultNetwork, Internal: true}).Defaulted()
		require.Len(t, d.Networks, 1)
		assert.True(t, d.Networks[0].Internal)
	})
	t.Run("not added when a service declares it", func(t *testing.T) {
		a := svc("a")
		a.Declares.Networks = []stack.Network{{Name: stack.DefaultNetwork}}
		d := stack.New("maps", a).Defaulted()
		assert.Empty(t, d.Networks)
		assert.Equal(t, "overlay", d.Services[0].Declares.Networks[0].Driver)
	})
	t.Run("volumes get the local driver", func(t *testing.T) {
		a := svc("a")
		a.Declares.Volumes = []stack.Volume{{Name: "x"}}
		d := stack.New("maps", a, stack.Volume{Name: "y", Driver: "nfs"}).Defaulted()
		assert.Equal(t, "nfs", d.Volumes[0].Driver)
		assert.Equal(t, "local", d.Services[0].Declares.Volumes[0].Driver)
	})
}

func TestDefaultedDoesNotModifyReceiver(t *testing.T) {
	a := svc("a")
	a.Ports = []stack.Port{{Target: 80}}
	a.Secrets = []stack.FileRef{{Source: "pw"}}
	a.Env = map[string]string{"A": "1"}
	st := stack.New("maps", a, stack.Secret{Name: "pw", Data: []byte("x")}, stack.Volume{Name: "v"})
	before := stack.New("maps", svc("a"))
	before.Services[0].Ports = []stack.Port{{Target: 80}}
	before.Services[0].Secrets = []stack.FileRef{{Source: "pw"}}
	before.Services[0].Env = map[string]string{"A": "1"}
	before.Add(stack.Secret{Name: "pw", Data: []byte("x")}, stack.Volume{Name: "v"})
	require.Empty(t, cmp.Diff(before, st), "test setup")

	d := st.Defaulted()
	assert.Empty(t, cmp.Diff(before, st), "Defaulted changed its receiver")

	// The copy is deep: changing it leaves the original alone.
	d.Services[0].Env["A"] = "2"
	d.Services[0].Ports[0].Target = 81
	d.Secrets[0].Data[0] = 'y'
	assert.Equal(t, "1", st.Services[0].Env["A"])
	assert.Equal(t, uint32(80), st.Services[0].Ports[0].Target)
	assert.Equal(t, []byte("x"), st.Secrets[0].Data)
}

func TestDefaultedIsIdempotent(t *testing.T) {
	a := svc("a")
	a.Ports = []stack.Port{{Target: 80}}
	a.Health = &stack.Health{Test: []string{"CMD", "true"}}
	j := svc("j")
	j.Mode = stack.ReplicatedJob
	once := stack.New("maps", a, j).Defaulted()
	twice := once.Defaulted()
	assert.Empty(t, cmp.Diff(once, twice))
}

func TestDefaultedSkipsNilServices(t *testing.T) {
	st := &stack.Stack{Name: "maps", Services: []*stack.Service{nil, svc("a")}}
	d := st.Defaulted()
	assert.Nil(t, d.Services[0])
	assert.Equal(t, stack.Replicated, d.Services[1].Mode)
}

package swarmx_test

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSource resolves env vars and files from maps only.
func fakeSource(env map[string]string, files map[string]string) swarmx.Source {
	return swarmx.Source{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	}
}

var emptySource = fakeSource(nil, nil)

func svc(name string) *stack.Service {
	return &stack.Service{Name: name, Image: "example/" + name + ":1"}
}

func render(t *testing.T, st *stack.Stack) *swarmx.Desired {
	t.Helper()
	d, err := swarmx.Render(st, emptySource)
	require.NoError(t, err)
	return d
}

// renderOne renders a stack "maps" of one service and returns its spec.
func renderOne(t *testing.T, s *stack.Service, parts ...stack.Part) swarm.ServiceSpec {
	t.Helper()
	d := render(t, stack.New("maps", append([]stack.Part{s}, parts...)...))
	got, ok := d.Service(s.Name)
	require.True(t, ok)
	return got.Spec
}

func TestRenderService(t *testing.T) {
	tests := []struct {
		name  string
		in    func(*stack.Service)
		parts []stack.Part
		check func(t *testing.T, spec swarm.ServiceSpec)
	}{
		{"name, image, command, args", func(s *stack.Service) {
			s.Image = "camptocamp/mapserver:8.0"
			s.Command = []string{"/bin/sh", "-c"}
			s.Args = []string{"echo hi"}
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			cs := spec.TaskTemplate.ContainerSpec
			assert.Equal(t, "maps_a", spec.Name)
			assert.Equal(t, "camptocamp/mapserver:8.0", cs.Image)
			assert.Equal(t, []string{"/bin/sh", "-c"}, cs.Command)
			assert.Equal(t, []string{"echo hi"}, cs.Args)
		}},
		{"env sorted", func(s *stack.Service) {
			s.Env = map[string]string{"ZED": "1", "ALPHA": "a=b", "MIDDLE": ""}
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, []string{"ALPHA=a=b", "MIDDLE=", "ZED=1"}, spec.TaskTemplate.ContainerSpec.Env)
		}},
		{"no env", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Nil(t, spec.TaskTemplate.ContainerSpec.Env)
		}},
		{"workdir, user, hostname", func(s *stack.Service) {
			s.WorkDir, s.User, s.Hostname = "/srv", "999:999", "ms-{{.Task.Slot}}"
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			cs := spec.TaskTemplate.ContainerSpec
			assert.Equal(t, "/srv", cs.Dir)
			assert.Equal(t, "999:999", cs.User)
			assert.Equal(t, "ms-{{.Task.Slot}}", cs.Hostname)
		}},
		{"replicated by default", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			require.NotNil(t, spec.Mode.Replicated)
			assert.Equal(t, uint64(1), *spec.Mode.Replicated.Replicas)
			assert.Nil(t, spec.Mode.Global)
			assert.Nil(t, spec.Mode.ReplicatedJob)
			assert.Nil(t, spec.Mode.GlobalJob)
		}},
		{"replicas", func(s *stack.Service) { s.Replicas = stack.Ptr(uint64(3)) }, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, uint64(3), *spec.Mode.Replicated.Replicas)
		}},
		{"zero replicas", func(s *stack.Service) { s.Replicas = stack.Ptr(uint64(0)) }, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, uint64(0), *spec.Mode.Replicated.Replicas)
		}},
		{"global", func(s *stack.Service) { s.Mode = stack.Global }, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.NotNil(t, spec.Mode.Global)
			assert.Nil(t, spec.Mode.Replicated)
			assert.NotNil(t, spec.UpdateConfig)
		}},
		{"replicated job with max concurrent", func(s *stack.Service) {
			s.Mode = stack.ReplicatedJob
			s.Replicas = stack.Ptr(uint64(6))
			s.MaxConcurrent = 2
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			require.NotNil(t, spec.Mode.ReplicatedJob)
			assert.Equal(t, uint64(6), *spec.Mode.ReplicatedJob.TotalCompletions)
			assert.Equal(t, uint64(2), *spec.Mode.ReplicatedJob.MaxConcurrent)
			assert.Nil(t, spec.Mode.Replicated)
			assert.Nil(t, spec.UpdateConfig, "Swarm rejects update configs on jobs")
			assert.Nil(t, spec.RollbackConfig)
		}},
		{"replicated job runs all at once by default", func(s *stack.Service) {
			s.Mode = stack.ReplicatedJob
			s.Replicas = stack.Ptr(uint64(4))
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, uint64(4), *spec.Mode.ReplicatedJob.MaxConcurrent)
		}},
		{"global job", func(s *stack.Service) { s.Mode = stack.GlobalJob }, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.NotNil(t, spec.Mode.GlobalJob)
			assert.Nil(t, spec.Mode.Replicated)
			assert.Nil(t, spec.UpdateConfig)
			require.NotNil(t, spec.TaskTemplate.RestartPolicy)
			assert.Equal(t, swarm.RestartPolicyConditionOnFailure, spec.TaskTemplate.RestartPolicy.Condition)
			assert.Equal(t, uint64(3), *spec.TaskTemplate.RestartPolicy.MaxAttempts)
		}},
		{"schedule label", func(s *stack.Service) {
			s.Mode = stack.ReplicatedJob
			s.Schedule = "0 */10 * * * *"
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, "0 */10 * * * *", spec.Labels[stack.LabelSchedule])
		}},
		{"no schedule label", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.NotContains(t, spec.Labels, stack.LabelSchedule)
		}},
		{"placement", func(s *stack.Service) {
			s.Placement = stack.Placement{Constraints: []string{"node.labels.gis==true", "node.role==worker"},
				Spread: []string{"node.labels.zone"}, MaxReplicasPerNode: 2}
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, &swarm.Placement{
				Constraints: []string{"node.labels.gis==true", "node.role==worker"},
				Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}}},
				MaxReplicas: 2,
			}, spec.TaskTemplate.Placement)
		}},
		{"no placement", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Nil(t, spec.TaskTemplate.Placement)
		}},
		{"resources", func(s *stack.Service) {
			s.Resources = stack.Resources{CPULimit: 1.5, MemoryLimit: 2 * stack.GiB, CPUReservation: 0.25, MemoryReservation: 256 * stack.MiB}
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, &swarm.ResourceRequirements{
				Limits:       &swarm.Limit{NanoCPUs: 1_500_000_000, MemoryBytes: 2 << 30},
				Reservations: &swarm.Resources{NanoCPUs: 250_000_000, MemoryBytes: 256 << 20},
			}, spec.TaskTemplate.Resources)
		}},
		{"limits only", func(s *stack.Service) {
			s.Resources = stack.Resources{MemoryLimit: 64 * stack.MiB}
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			require.NotNil(t, spec.TaskTemplate.Resources)
			assert.Equal(t, &swarm.Limit{MemoryBytes: 64 << 20}, spec.TaskTemplate.Resources.Limits)
			assert.Nil(t, spec.TaskTemplate.Resources.Reservations)
		}},
		{"no resources", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Nil(t, spec.TaskTemplate.Resources)
		}},
		{"mounts", func(s *stack.Service) {
			s.Mounts = []stack.Mount{
				{Source: "pgdata", Target: "/var/lib/postgresql/data"},
				{Type: stack.BindMount, Source: "/srv/maps", Target: "/etc/mapserver", ReadOnly: true},
				{Type: stack.TmpfsMount, Target: "/tmp", TmpfsSize: 64 << 20},
				{Type: stack.TmpfsMount, Target: "/run"},
			}
		}, []stack.Part{stack.Volume{Name: "pgdata", Labels: map[string]string{"backup": "daily"}}},
			func(t *testing.T, spec swarm.ServiceSpec) {
				ms := spec.TaskTemplate.ContainerSpec.Mounts
				require.Len(t, ms, 4)
				assert.Equal(t, mount.Mount{Type: mount.TypeVolume, Source: "maps_pgdata", Target: "/var/lib/postgresql/data",
					VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{
						stack.LabelNamespace: "maps", stack.LabelName: "pgdata", "backup": "daily"}}}, ms[0])
				assert.Equal(t, mount.Mount{Type: mount.TypeBind, Source: "/srv/maps", Target: "/etc/mapserver", ReadOnly: true}, ms[1])
				assert.Equal(t, mount.Mount{Type: mount.TypeTmpfs, Target: "/tmp", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20}}, ms[2])
				assert.Equal(t, mount.Mount{Type: mount.TypeTmpfs, Target: "/run"}, ms[3])
			}},
		{"volume with a driver", func(s *stack.Service) {
			s.Mounts = []stack.Mount{{Source: "tiles", Target: "/tiles"}}
		}, []stack.Part{stack.Volume{Name: "tiles", Driver: "local", DriverOpts: map[string]string{"type": "nfs", "o": "addr=10.0.0.1"}}},
			func(t *testing.T, spec swarm.ServiceSpec) {
				m := spec.TaskTemplate.ContainerSpec.Mounts[0]
				require.NotNil(t, m.VolumeOptions.DriverConfig)
				assert.Equal(t, &mount.Driver{Name: "local", Options: map[string]string{"type": "nfs", "o": "addr=10.0.0.1"}}, m.VolumeOptions.DriverConfig)
			}},
		{"external volume", func(s *stack.Service) {
			s.Mounts = []stack.Mount{{Source: "shared", Target: "/shared"}}
		}, []stack.Part{stack.Volume{Name: "shared", External: true}},
			func(t *testing.T, spec swarm.ServiceSpec) {
				m := spec.TaskTemplate.ContainerSpec.Mounts[0]
				assert.Equal(t, "shared", m.Source, "external volumes keep their name")
				assert.Nil(t, m.VolumeOptions)
			}},
		{"ports default to host mode, published = target", func(s *stack.Service) {
			s.Ports = []stack.Port{{Target: 80}, {Target: 5432, Published: 15432}, {Target: 53, Protocol: "udp", Mode: stack.IngressPort, Published: 53}}
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, []swarm.PortConfig{
				{Protocol: network.TCP, TargetPort: 80, PublishedPort: 80, PublishMode: swarm.PortConfigPublishModeHost},
				{Protocol: network.TCP, TargetPort: 5432, PublishedPort: 15432, PublishMode: swarm.PortConfigPublishModeHost},
				{Protocol: network.UDP, TargetPort: 53, PublishedPort: 53, PublishMode: swarm.PortConfigPublishModeIngress},
			}, spec.EndpointSpec.Ports)
			assert.Equal(t, swarm.UpdateOrderStopFirst, spec.UpdateConfig.Order)
		}},
		{"endpoint mode dnsrr by default", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, swarm.ResolutionModeDNSRR, spec.EndpointSpec.Mode)
			assert.Empty(t, spec.EndpointSpec.Ports)
		}},
		{"endpoint mode vip", func(s *stack.Service) { s.EndpointMode = stack.VIP }, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, swarm.ResolutionModeVIP, spec.EndpointSpec.Mode)
		}},
		{"default network with service name alias", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, []swarm.NetworkAttachmentConfig{{Target: "maps_default", Aliases: []string{"a"}}}, spec.TaskTemplate.Networks)
		}},
		{"networks with aliases, stack-scoped or external", func(s *stack.Service) {
			s.Networks = []string{"back", "traefik"}
			s.Aliases = []string{"wms", "maps"}
		}, []stack.Part{stack.Network{Name: "back"}, stack.Network{Name: "traefik", External: true}},
			func(t *testing.T, spec swarm.ServiceSpec) {
				assert.Equal(t, []swarm.NetworkAttachmentConfig{
					{Target: "maps_back", Aliases: []string{"a", "wms", "maps"}},
					{Target: "traefik", Aliases: []string{"a", "wms", "maps"}},
				}, spec.TaskTemplate.Networks)
			}},
		{"secret and config references", func(s *stack.Service) {
			s.Secrets = []stack.FileRef{{Source: "pgpass"}, {Source: "tls", Target: "/etc/ssl/key.pem", UID: "101", GID: "102", Mode: 0o440}}
			s.Configs = []stack.FileRef{{Source: "mapfile", Target: "/etc/mapserver/app.map"}}
		}, []stack.Part{
			stack.Secret{Name: "pgpass", Data: []byte("s3cret")},
			stack.Secret{Name: "tls", External: true},
			stack.Config{Name: "mapfile", Data: []byte("MAP END")},
		}, func(t *testing.T, spec swarm.ServiceSpec) {
			cs := spec.TaskTemplate.ContainerSpec
			require.Len(t, cs.Secrets, 2)
			assert.Equal(t, "maps_pgpass_v1", cs.Secrets[0].SecretName)
			assert.Empty(t, cs.Secrets[0].SecretID, "IDs are resolved by the Applier")
			assert.Equal(t, &swarm.SecretReferenceFileTarget{Name: "pgpass", UID: "0", GID: "0", Mode: 0o400}, cs.Secrets[0].File)
			assert.Equal(t, "tls", cs.Secrets[1].SecretName, "external secrets keep their name")
			assert.Equal(t, &swarm.SecretReferenceFileTarget{Name: "/etc/ssl/key.pem", UID: "101", GID: "102", Mode: 0o440}, cs.Secrets[1].File)
			require.Len(t, cs.Configs, 1)
			assert.Regexp(t, `^maps_mapfile_[0-9a-f]{10}$`, cs.Configs[0].ConfigName)
			assert.Equal(t, &swarm.ConfigReferenceFileTarget{Name: "/etc/mapserver/app.map", UID: "0", GID: "0", Mode: 0o444}, cs.Configs[0].File)
		}},
		{"health", func(s *stack.Service) {
			s.Health = &stack.Health{Test: []string{"CMD-SHELL", "pg_isready"}, Interval: 5 * time.Second, Timeout: 2 * time.Second,
				StartPeriod: 20 * time.Second, Retries: 4}
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, &container.HealthConfig{Test: []string{"CMD-SHELL", "pg_isready"}, Interval: 5 * time.Second,
				Timeout: 2 * time.Second, StartPeriod: 20 * time.Second, Retries: 4}, spec.TaskTemplate.ContainerSpec.Healthcheck)
			// The update monitor covers the health check once the task is healthy: 5s × 5.
			assert.Equal(t, 25*time.Second, spec.UpdateConfig.Monitor)
		}},
		{"no health keeps the image's", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Nil(t, spec.TaskTemplate.ContainerSpec.Healthcheck)
		}},
		{"update and rollback", func(s *stack.Service) {
			s.Update = &stack.UpdatePolicy{Parallelism: 2, Delay: time.Second, Order: stack.StopFirst, FailureAction: "continue",
				Monitor: time.Minute, MaxFailureRatio: 0.5}
			s.Rollback = &stack.UpdatePolicy{Parallelism: 3}
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, &swarm.UpdateConfig{Parallelism: 2, Delay: time.Second, FailureAction: swarm.UpdateFailureActionContinue,
				Monitor: time.Minute, MaxFailureRatio: 0.5, Order: swarm.UpdateOrderStopFirst}, spec.UpdateConfig)
			// The rollback's order follows a stop-first update (one writer on a data volume).
			assert.Equal(t, &swarm.UpdateConfig{Parallelism: 3, FailureAction: swarm.UpdateFailureActionPause,
				Monitor: stack.DefaultRollbackMonitor, Order: swarm.UpdateOrderStopFirst}, spec.RollbackConfig)
		}},
		{"default update config", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, &swarm.UpdateConfig{Parallelism: 1, FailureAction: swarm.UpdateFailureActionRollback,
				Monitor: stack.DefaultUpdateMonitor, Order: swarm.UpdateOrderStartFirst}, spec.UpdateConfig)
		}},
		{"restart policy", func(s *stack.Service) {
			s.Restart = &stack.RestartPolicy{Condition: "any", Delay: 3 * time.Second, MaxAttempts: 5, Window: time.Minute}
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			d, w, n := 3*time.Second, time.Minute, uint64(5)
			assert.Equal(t, &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &d, MaxAttempts: &n, Window: &w},
				spec.TaskTemplate.RestartPolicy)
		}},
		{"default restart policy", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			d := stack.DefaultRestartDelay
			assert.Equal(t, &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &d}, spec.TaskTemplate.RestartPolicy)
		}},
		{"stop grace period", func(s *stack.Service) { s.StopGracePeriod = 30 * time.Second }, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			require.NotNil(t, spec.TaskTemplate.ContainerSpec.StopGracePeriod)
			assert.Equal(t, 30*time.Second, *spec.TaskTemplate.ContainerSpec.StopGracePeriod)
		}},
		{"no stop grace period keeps Swarm's", func(*stack.Service) {}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Nil(t, spec.TaskTemplate.ContainerSpec.StopGracePeriod)
		}},
		{"labels", func(s *stack.Service) {
			s.Labels = map[string]string{"traefik.enable": "true"}
			s.ContainerLabels = map[string]string{"logging": "json"}
		}, nil, func(t *testing.T, spec swarm.ServiceSpec) {
			assert.Equal(t, "true", spec.Labels["traefik.enable"])
			assert.Equal(t, "maps", spec.Labels[stack.LabelNamespace])
			assert.Equal(t, "a", spec.Labels[stack.LabelName])
			assert.Regexp(t, `^[0-9a-f]{64}$`, spec.Labels[stack.LabelHash])
			assert.NotEmpty(t, spec.Labels[stack.LabelLastApplied])
			assert.Equal(t, map[string]string{"logging": "json", stack.LabelNamespace: "maps"}, spec.TaskTemplate.ContainerSpec.Labels)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := svc("a")
			tt.in(s)
			tt.check(t, renderOne(t, s, tt.parts...))
		})
	}
}

func TestRenderDesiredService(t *testing.T) {
	db, ms := svc("db"), svc("mapserver")
	ms.DependsOn = []string{"db"}
	ms.Replicas = stack.Ptr(uint64(2))
	ms.Endpoints = []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms", Layers: []string{"roads"}}}
	job := svc("loader")
	job.Mode = stack.ReplicatedJob
	job.Schedule = "@hourly"
	d := render(t, stack.New("maps", db, ms, job))

	assert.Equal(t, "maps", d.Stack)
	require.Len(t, d.Services, 3)
	got, ok := d.Service("mapserver")
	require.True(t, ok)
	assert.Equal(t, "maps_mapserver", got.Name)
	assert.Equal(t, "mapserver", got.Logical)
	assert.Equal(t, []string{"db"}, got.DependsOn)
	assert.Equal(t, ms.Endpoints, got.Endpoints)
	assert.Equal(t, uint64(2), got.Replicas())
	assert.False(t, got.IsJob())
	assert.Equal(t, got.Spec.Labels[stack.LabelHash], got.Hash)

	l, _ := d.Service("loader")
	assert.True(t, l.IsJob())
	assert.Equal(t, "@hourly", l.Schedule)
	assert.Equal(t, uint64(1), l.Replicas())

	_, ok = d.Service("nope")
	assert.False(t, ok)
}

func TestRenderObjects(t *testing.T) {
	a := svc("a")
	a.Networks = []string{"back", "front", "traefik"}
	a.Mounts = []stack.Mount{{Source: "data", Target: "/data"}, {Source: "cache", Target: "/cache"}}
	a.Declares.Volumes = []stack.Volume{{Name: "data"}}
	a.Declares.Secrets = []stack.Secret{{Name: "pw", Generate: 24}}
	st := stack.New("maps", a,
		stack.Network{Name: "back", Internal: true, Labels: map[string]string{"tier": "db"}},
		stack.Network{Name: "front", Attachable: stack.Ptr(false)},
		stack.Network{Name: "traefik", External: true},
		stack.Config{Name: "cfg", Data: []byte("x")},
	)
	st.Labels = map[string]string{"owner": "gis-team"}
	d := render(t, st)

	// Networks: sorted, stack-scoped, overlay, swarm scope, labelled and hashed; external ones untouched.
	require.Len(t, d.Networks, 3)
	back := d.Networks[0]
	assert.Equal(t, "maps_back", back.Name)
	assert.Equal(t, "back", back.Logical)
	assert.Equal(t, "overlay", back.Options.Driver)
	assert.Equal(t, "swarm", back.Options.Scope)
	assert.True(t, back.Options.Internal)
	assert.True(t, back.Options.Attachable)
	assert.Equal(t, "db", back.Options.Labels["tier"])
	assert.Equal(t, "gis-team", back.Options.Labels["owner"], "stack labels on every object")
	assert.Equal(t, back.Hash, back.Options.Labels[stack.LabelHash])
	assert.False(t, d.Networks[1].Options.Attachable)
	assert.Equal(t, swarmx.Network{Name: "traefik", Logical: "traefik", External: true}, d.Networks[2])

	// Volumes: declared ones and the ones mounts use without a declaration.
	require.Len(t, d.Volumes, 2)
	assert.Equal(t, "maps_cache", d.Volumes[0].Name)
	assert.Equal(t, "local", d.Volumes[0].Options.Driver)
	assert.Equal(t, "maps_data", d.Volumes[1].Name)
	assert.Equal(t, "maps_data", d.Volumes[1].Options.Name)

	// Generated secrets keep a fixed name and carry no data.
	require.Len(t, d.Secrets, 1)
	assert.Equal(t, "maps_pw", d.Secrets[0].Name)
	assert.Equal(t, 24, d.Secrets[0].Generate)
	assert.Nil(t, d.Secrets[0].Spec.Data)
	assert.Equal(t, "24", d.Secrets[0].Spec.Labels[stack.LabelGenerated])

	require.Len(t, d.Configs, 1)
	assert.Equal(t, []byte("x"), d.Configs[0].Spec.Data)
	assert.Equal(t, d.Configs[0].Name, d.Configs[0].Spec.Name)
}

func TestRenderNamespaceLabelOnEveryObject(t *testing.T) {
	a := svc("a")
	a.Mounts = []stack.Mount{{Source: "data", Target: "/data"}}
	a.Secrets = []stack.FileRef{{Source: "pw"}, {Source: "gen"}}
	a.Configs = []stack.FileRef{{Source: "cfg", Target: "/cfg"}}
	st := stack.New("maps", a, stack.Secret{Name: "pw", Data: []byte("x")}, stack.Secret{Name: "gen", Generate: 16},
		stack.Config{Name: "cfg", Data: []byte("y")}, stack.Volume{Name: "data"})
	d := render(t, st)
	const ns = stack.LabelNamespace
	for _, n := range d.Networks {
		assert.Equal(t, "maps", n.Options.Labels[ns], "network %s", n.Name)
	}
	for _, v := range d.Volumes {
		assert.Equal(t, "maps", v.Options.Labels[ns], "volume %s", v.Name)
	}
	for _, s := range d.Secrets {
		assert.Equal(t, "maps", s.Spec.Labels[ns], "secret %s", s.Name)
	}
	for _, c := range d.Configs {
		assert.Equal(t, "maps", c.Spec.Labels[ns], "config %s", c.Name)
	}
	for _, s := range d.Services {
		assert.Equal(t, "maps", s.Spec.Labels[ns], "service %s", s.Name)
		assert.Equal(t, "maps", s.Spec.TaskTemplate.ContainerSpec.Labels[ns], "containers of %s", s.Name)
		for _, m := range s.Spec.TaskTemplate.ContainerSpec.Mounts {
			assert.Equal(t, "maps", m.VolumeOptions.Labels[ns], "volume options of %s", s.Name)
		}
	}
	assert.Len(t, d.Networks, 1)
	assert.Len(t, d.Volumes, 1)
	assert.Len(t, d.Secrets, 2)
	assert.Len(t, d.Configs, 1)
}

func TestRenderIsPureAndStable(t *testing.T) {
	build := func() *stack.Stack {
		a := svc("a")
		a.Env = map[string]string{"B": "2", "A": "1", "C": "3"}
		a.Labels = map[string]string{"x": "1", "y": "2"}
		a.Secrets = []stack.FileRef{{Source: "pw"}}
		return stack.New("maps", a, svc("b"), stack.Secret{Name: "pw", Data: []byte("x")})
	}
	st := build()
	d1 := render(t, st)
	d2 := render(t, st)
	assert.Empty(t, cmp.Diff(d1, d2), "two renders differ")
	assert.Empty(t, cmp.Diff(build(), st), "Render changed its input")
	for i := 0; i < 20; i++ { // map iteration order must not leak into the hash
		d := render(t, build())
		assert.Equal(t, d1.Services[0].Hash, d.Services[0].Hash)
	}
}

func TestRenderHashChangesWithEveryField(t *testing.T) {
	base := func() *stack.Service {
		s := svc("a")
		s.Env = map[string]string{"A": "1"}
		return s
	}
	hashOf := func(s *stack.Service, parts ...stack.Part) string {
		d := render(t, stack.New("maps", append([]stack.Part{s}, parts...)...))
		return d.Services[0].Hash
	}
	h0 := hashOf(base())
	changes := map[string]func(*stack.Service) []stack.Part{
		"image":     func(s *stack.Service) []stack.Part { s.Image = "example/a:2"; return nil },
		"env value": func(s *stack.Service) []stack.Part { s.Env["A"] = "2"; return nil },
		"env var":   func(s *stack.Service) []stack.Part { s.Env["B"] = "1"; return nil },
		"args":      func(s *stack.Service) []stack.Part { s.Args = []string{"-v"}; return nil },
		"replicas":  func(s *stack.Service) []stack.Part { s.Replicas = stack.Ptr(uint64(2)); return nil },
		"label":     func(s *stack.Service) []stack.Part { s.Labels = map[string]string{"k": "v"}; return nil },
		"port":      func(s *stack.Service) []stack.Part { s.Ports = []stack.Port{{Target: 80}}; return nil },
		"mount": func(s *stack.Service) []stack.Part {
			s.Mounts = []stack.Mount{{Type: stack.TmpfsMount, Target: "/tmp"}}
			return nil
		},
		"constraint": func(s *stack.Service) []stack.Part {
			s.Placement.Constraints = []string{"node.role==manager"}
			return nil
		},
		"memory": func(s *stack.Service) []stack.Part { s.Resources.MemoryLimit = stack.GiB; return nil },
		"secret content": func(s *stack.Service) []stack.Part {
			s.Secrets = []stack.FileRef{{Source: "pw"}}
			return []stack.Part{stack.Secret{Name: "pw", Data: []byte("other")}}
		},
	}
	seen := map[string]string{h0: "base"}
	for name, change := range changes {
		s := base()
		parts := change(s)
		h := hashOf(s, parts...)
		assert.NotEqual(t, h0, h, "%s did not change the hash", name)
		if prev, dup := seen[h]; dup && name != "secret content" {
			t.Errorf("%s and %s give the same hash", name, prev)
		}
		seen[h] = name
	}

	// Secret content does not show in the spec: Render names the first version of any content
	// alike (Plan and Apply pick the version; TestApplyChangedSecretContent).
	withSecret := func(data string) string {
		s := base()
		s.Secrets = []stack.FileRef{{Source: "pw"}}
		return hashOf(s, stack.Secret{Name: "pw", Data: []byte(data)})
	}
	assert.Equal(t, withSecret("one"), withSecret("two"))
}

func TestRenderSecretVersions(t *testing.T) {
	name := func(data string) string {
		d := render(t, stack.New("maps", svc("a"), stack.Secret{Name: "pw", Data: []byte(data)}))
		return d.Secrets[0].Name
	}
	// The name says nothing about the value: a version, not a hash of it.
	assert.Equal(t, "maps_pw_v1", name("a"))
	assert.Equal(t, name("a"), name("b"))

	cfg := func(data string) string {
		d := render(t, stack.New("maps", svc("a"), stack.Config{Name: "c", Data: []byte(data)}))
		return d.Configs[0].Name
	}
	assert.Regexp(t, `^maps_c_[0-9a-f]{10}$`, cfg("a"))
	assert.NotEqual(t, cfg("a"), cfg("b"))
}

func TestRenderSecretSources(t *testing.T) {
	src := fakeSource(map[string]string{"PGPASS": "from-env"}, map[string]string{"/run/keys/api": "from-file", "/etc/app.map": "MAP"})
	st := stack.New("maps", svc("a"),
		stack.Secret{Name: "env", Env: "PGPASS"},
		stack.Secret{Name: "file", File: "/run/keys/api"},
		stack.Config{Name: "map", File: "/etc/app.map"},
	)
	d, err := swarmx.Render(st, src)
	require.NoError(t, err)
	require.Len(t, d.Secrets, 2)
	assert.Equal(t, "env", d.Secrets[0].Logical)
	assert.Equal(t, []byte("from-env"), d.Secrets[0].Spec.Data)
	assert.Equal(t, []byte("from-file"), d.Secrets[1].Spec.Data)
	assert.Equal(t, []byte("MAP"), d.Configs[0].Spec.Data)

	// Redacted drops secret data but keeps configs and leaves the original alone.
	r := d.Redacted()
	for _, s := range r.Secrets {
		assert.Nil(t, s.Spec.Data)
	}
	assert.Equal(t, []byte("MAP"), r.Configs[0].Spec.Data)
	assert.Equal(t, []byte("from-env"), d.Secrets[0].Spec.Data)
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name string
		part stack.Part
		path string
		msg  string
	}{
		{"env not set", stack.Secret{Name: "pw", Env: "NOPE"}, "secrets[pw].env", "environment variable NOPE is not set"},
		{"file missing", stack.Secret{Name: "key", File: "/nope"}, "secrets[key].file", "/nope"},
		{"config file missing", stack.Config{Name: "map", File: "/nope.map"}, "configs[map].file", "/nope.map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := swarmx.Render(stack.New("maps", svc("a"), tt.part), emptySource)
			require.Error(t, err)
			assert.Nil(t, d)
			var re *swarmx.RenderError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, "maps", re.Stack)
			assert.Equal(t, tt.path, re.Path)
			assert.Contains(t, err.Error(), `stack "maps"`)
			assert.Contains(t, err.Error(), tt.path)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
	t.Run("file error is wrapped", func(t *testing.T) {
		_, err := swarmx.Render(stack.New("maps", svc("a"), stack.Secret{Name: "k", File: "/nope"}), emptySource)
		assert.True(t, errors.Is(err, fs.ErrNotExist))
	})
	t.Run("invalid stack", func(t *testing.T) {
		_, err := swarmx.Render(stack.New("maps", &stack.Service{Name: "a"}), emptySource)
		var ve *stack.ValidationError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, "services[a].image", ve.Problems[0].Path)
	})
	t.Run("zero source reads the process environment", func(t *testing.T) {
		t.Setenv("KARGO_TEST_SECRET", "from-process")
		d, err := swarmx.Render(stack.New("maps", svc("a"), stack.Secret{Name: "pw", Env: "KARGO_TEST_SECRET"}), swarmx.Source{})
		require.NoError(t, err)
		assert.Equal(t, []byte("from-process"), d.Secrets[0].Spec.Data)
	})
	t.Run("zero source reads files", func(t *testing.T) {
		p := t.TempDir() + "/pw"
		require.NoError(t, os.WriteFile(p, []byte("disk"), 0o600))
		d, err := swarmx.Render(stack.New("maps", svc("a"), stack.Secret{Name: "pw", File: p}), swarmx.Source{})
		require.NoError(t, err)
		assert.Equal(t, []byte("disk"), d.Secrets[0].Spec.Data)
	})
}

func TestDecodeLastApplied(t *testing.T) {
	a := svc("a")
	a.Env = map[string]string{"A": "1"}
	spec := renderOne(t, a)
	got, err := swarmx.DecodeLastApplied(spec.Labels[stack.LabelLastApplied])
	require.NoError(t, err)
	assert.Equal(t, "maps_a", got.Name)
	assert.Equal(t, []string{"A=1"}, got.TaskTemplate.ContainerSpec.Env)
	assert.NotContains(t, got.Labels, stack.LabelHash, "bookkeeping labels are not part of the recorded spec")
	assert.NotContains(t, got.Labels, stack.LabelLastApplied)

	_, err = swarmx.DecodeLastApplied("not base64!")
	assert.Error(t, err)
}

func TestLevels(t *testing.T) {
	d := render(t, func() *stack.Stack {
		db, api, web, ms := svc("db"), svc("api"), svc("web"), svc("ms")
		api.DependsOn = []string{"db"}
		ms.DependsOn = []string{"db"}
		web.DependsOn = []string{"api", "ms"}
		return stack.New("maps", web, api, db, ms)
	}())
	var names [][]string
	for _, level := range swarmx.Levels(d.Services) {
		var l []string
		for _, s := range level {
			l = append(l, s.Logical)
		}
		names = append(names, l)
	}
	assert.Equal(t, [][]string{{"db"}, {"api", "ms"}, {"web"}}, names)

	// A cycle (rejected by Validate) never loops forever.
	cyc := []swarmx.Service{{Logical: "a", DependsOn: []string{"b"}}, {Logical: "b", DependsOn: []string{"a"}}}
	assert.Len(t, swarmx.Levels(cyc), 1)
}

package kargo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/internal/fakeengine"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var _ kargo.Engine = (*fakeengine.Engine)(nil)

const secretValue = "TOP-SECRET-PG-PASSWORD"

func mapsStack() *stack.Stack {
	db := &stack.Service{Name: "db", Image: "postgis/postgis:15-3.3",
		Env:     map[string]string{"POSTGRES_PASSWORD_FILE": "/run/secrets/pgpass"},
		Secrets: []stack.FileRef{{Source: "pgpass"}},
		Mounts:  []stack.Mount{{Source: "pgdata", Target: "/var/lib/postgresql/data"}}}
	ms := &stack.Service{Name: "mapserver", Image: "camptocamp/mapserver:8.0", Replicas: stack.Ptr(uint64(2)),
		DependsOn: []string{"db"}, Ports: []stack.Port{{Target: 80, Published: 8080}}}
	return stack.New("maps", db, ms, stack.Secret{Name: "pgpass", Data: []byte(secretValue)})
}

// cli runs the CLI against a fake engine.
type cli struct {
	t       *testing.T
	engine  *fakeengine.Engine
	opened  int
	openErr error
	// ready records the services the apply readiness hook was asked about.
	ready []string
	// readyErr is what the readiness hook answers.
	readyErr error
}

func newCLI(t *testing.T) *cli { return &cli{t: t, engine: fakeengine.New()} }

func (c *cli) run(st *stack.Stack, args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = kargo.Run(context.Background(), args, st, kargo.Options{
		Stdout: &out, Stderr: &errb,
		Engine: func() (kargo.Engine, error) {
			c.opened++
			if c.openErr != nil {
				return nil, c.openErr
			}
			return c.engine, nil
		},
		Ready: func(_ context.Context, s swarmx.Service) error {
			c.ready = append(c.ready, s.Logical)
			return c.readyErr
		},
	})
	return out.String(), errb.String(), err
}

func TestValidateCommand(t *testing.T) {
	c := newCLI(t)
	out, _, err := c.run(mapsStack(), "validate")
	require.NoError(t, err)
	assert.Equal(t, kargo.ExitOK, kargo.ExitCode(err))
	assert.Equal(t, "stack maps is valid (2 services)\n", out)
	assert.Zero(t, c.opened, "validate never contacts the engine")

	bad := mapsStack()
	bad.Service("mapserver").DependsOn = []string{"ghost"}
	_, _, err = c.run(bad, "validate")
	require.Error(t, err)
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err))
	var ve *stack.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Contains(t, err.Error(), `services[mapserver].dependsOn[0]: unknown service "ghost"`)
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{"frobnicate"},
		{"plan", "--bogus"},
		{"plan", "extra-arg"},
		{"plan", "--output", "xml"},
		{"render", "--format", "yaml"},
		{"render", "--format", "compose"}, // needs --out
		{"logs"},
		{"logs", "ghost"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c := newCLI(t)
			_, _, err := c.run(mapsStack(), args...)
			require.Error(t, err)
			assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err), "%v", err)
			assert.Empty(t, c.engine.Mutations())
		})
	}
}

func TestExitCodes(t *testing.T) {
	assert.Equal(t, kargo.ExitOK, kargo.ExitCode(nil))
	assert.Equal(t, kargo.ExitFailure, kargo.ExitCode(errors.New("engine down")))
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(&kargo.UsageError{Err: errors.New("bad flag")}))
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(&stack.ValidationError{Stack: "s"}))
	wrapped := errors.Join(errors.New("context"), &stack.ValidationError{Stack: "s"})
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(wrapped))
}

func TestEngineErrorExitsOne(t *testing.T) {
	c := newCLI(t)
	c.openErr = errors.New("cannot connect to the Docker daemon")
	_, _, err := c.run(mapsStack(), "plan")
	require.Error(t, err)
	assert.Equal(t, kargo.ExitFailure, kargo.ExitCode(err))
	assert.Contains(t, err.Error(), "cannot connect")

	c = newCLI(t)
	c.engine.Fail["ServiceList"] = errors.New("permission denied")
	_, _, err = c.run(mapsStack(), "status")
	require.Error(t, err)
	assert.Equal(t, kargo.ExitFailure, kargo.ExitCode(err))
	assert.Contains(t, err.Error(), "permission denied")
}

func TestInvalidStackNeverReachesTheEngine(t *testing.T) {
	bad := mapsStack()
	bad.Service("db").Image = ""
	for _, cmd := range []string{"plan", "apply"} {
		t.Run(cmd, func(t *testing.T) {
			c := newCLI(t)
			_, _, err := c.run(bad, cmd)
			assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err))
			assert.Zero(t, c.opened)
			assert.Empty(t, c.engine.Calls())
		})
	}
}

// After a bad edit the stack is invalid, yet what runs must stay observable and removable:
// status and rm only need the stack's name.
func TestStatusAndRmWorkOnAnInvalidStack(t *testing.T) {
	c := newCLI(t)
	_, _, err := c.run(mapsStack(), "apply")
	require.NoError(t, err)
	bad := mapsStack()
	bad.Service("db").Image = ""
	out, _, err := c.run(bad, "status")
	require.NoError(t, err)
	assert.Contains(t, out, "maps_db")
	_, _, err = c.run(bad, "rm")
	require.NoError(t, err)
	assert.Empty(t, c.engine.Services())

	bad.Name = ""
	_, _, err = c.run(bad, "rm")
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err), "a stack without a name cannot be removed")
}

func TestRenderJSONHasNoSecretValue(t *testing.T) {
	c := newCLI(t)
	out, _, err := c.run(mapsStack(), "render", "--format", "json")
	require.NoError(t, err)
	assert.NotContains(t, out, secretValue)
	var d swarmx.Desired
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	assert.Equal(t, "maps", d.Stack)
	require.Len(t, d.Services, 2)
	assert.Equal(t, "maps_db", d.Services[0].Name)
	require.Len(t, d.Secrets, 1)
	assert.Nil(t, d.Secrets[0].Spec.Data)
	assert.Zero(t, c.opened, "render never contacts the engine")

	// json is the default format.
	out2, _, err := c.run(mapsStack(), "render")
	require.NoError(t, err)
	assert.Equal(t, out, out2)
}

func TestRenderCompose(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	out, _, err := c.run(mapsStack(), "render", "--format", "compose", "--out", dir)
	require.NoError(t, err)
	file := filepath.Join(dir, "docker-compose.yml")
	assert.Contains(t, out, file)
	assert.Contains(t, out, "docker stack deploy --resolve-image never -c "+file+" maps")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(b), "mapserver:")
	assert.NotContains(t, string(b), secretValue)
	sec, err := os.ReadFile(filepath.Join(dir, "secrets", "pgpass"))
	require.NoError(t, err)
	assert.Equal(t, secretValue, string(sec))
}

func TestPlanJSON(t *testing.T) {
	c := newCLI(t)
	out, _, err := c.run(mapsStack(), "plan", "--output", "json")
	require.NoError(t, err)
	var p swarmx.Plan
	require.NoError(t, json.Unmarshal([]byte(out), &p))
	assert.Equal(t, "maps", p.Stack)
	act, ok := p.Find(swarmx.KindService, "maps_mapserver")
	require.True(t, ok)
	assert.Equal(t, swarmx.Create, act.Op)
	assert.NotContains(t, out, secretValue)
	assert.Empty(t, c.engine.Mutations(), "plan never mutates")

	// -o is the short form.
	out2, _, err := c.run(mapsStack(), "plan", "-o", "json")
	require.NoError(t, err)
	assert.JSONEq(t, out, out2)
}

func TestApplyThenPlanUnchanged(t *testing.T) {
	c := newCLI(t)
	out, stderr, err := c.run(mapsStack(), "apply")
	require.NoError(t, err, "stderr: %s", stderr)
	assert.Contains(t, out, "stack maps applied")
	assert.Contains(t, stderr, "service maps_db: create", "progress goes to stderr")
	assert.NotContains(t, stderr, secretValue)
	svcs := c.engine.Services()
	require.Len(t, svcs, 2)

	out, _, err = c.run(mapsStack(), "plan")
	require.NoError(t, err)
	assert.Contains(t, out, "stack maps: 0 to create, 0 to update, 0 to delete")
	assert.Contains(t, out, "= service maps_mapserver")

	c.engine.Reset()
	out, _, err = c.run(mapsStack(), "apply", "-o", "json")
	require.NoError(t, err)
	assert.Empty(t, c.engine.Mutations())
	var res swarmx.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Zero(t, res.Mutations)

	// A change shows in the plan with its field.
	changed := mapsStack()
	changed.Service("mapserver").Replicas = stack.Ptr(uint64(3))
	out, _, err = c.run(changed, "plan")
	require.NoError(t, err)
	assert.Contains(t, out, "~ service maps_mapserver (Mode.Replicated.Replicas)")
}

func TestStatusAndRemove(t *testing.T) {
	c := newCLI(t)
	_, _, err := c.run(mapsStack(), "apply", "--wait=false")
	require.NoError(t, err)

	out, _, err := c.run(mapsStack(), "status")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	assert.Contains(t, lines[0], "SERVICE")
	assert.Contains(t, lines[2], "maps_mapserver")
	assert.Contains(t, lines[2], "2/2")
	assert.Contains(t, lines[2], "healthy")
	assert.Contains(t, lines[2], "8080:80/tcp (host)")

	out, _, err = c.run(mapsStack(), "status", "-o", "json")
	require.NoError(t, err)
	var sts []swarmx.ServiceStatus
	require.NoError(t, json.Unmarshal([]byte(out), &sts))
	require.Len(t, sts, 2)
	assert.Equal(t, "maps_db", sts[0].Name)

	c.engine.Reset()
	out, _, err = c.run(mapsStack(), "rm")
	require.NoError(t, err)
	assert.Equal(t, "stack maps removed\n", out)
	assert.Empty(t, c.engine.Services())
	assert.Empty(t, c.engine.SecretNames())
	assert.Equal(t, []string{"maps_pgdata"}, c.engine.VolumeNames(), "volumes kept without --volumes")

	_, _, err = c.run(mapsStack(), "rm", "--volumes")
	require.NoError(t, err)
	assert.Empty(t, c.engine.VolumeNames())
}

func TestLogsCommand(t *testing.T) {
	c := newCLI(t)
	_, _, err := c.run(mapsStack(), "apply")
	require.NoError(t, err)
	c.engine.Logs["maps_db"] = "database system is ready to accept connections\n"
	out, _, err := c.run(mapsStack(), "logs", "db")
	require.NoError(t, err)
	assert.Equal(t, "database system is ready to accept connections\n", out)
}

func TestApplyAsksReadinessOfServicesWithEndpoints(t *testing.T) {
	c := newCLI(t)
	ms := &stack.Service{Name: "mapserver", Image: "kargo/mapserver:8.0",
		Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms", Layers: []string{"roads"}}}}
	st := stack.New("maps", ms, &stack.Service{Name: "worker", Image: "busybox"})
	_, _, err := c.run(st, "apply")
	require.NoError(t, err)
	assert.Equal(t, []string{"mapserver"}, c.ready)
}

func TestStatusShowsEndpointReadiness(t *testing.T) {
	c := newCLI(t)
	ms := &stack.Service{Name: "mapserver", Image: "kargo/mapserver:8.0", Ports: []stack.Port{{Target: 80, Published: 18888}},
		Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms", Layers: []string{"roads"}}}}
	// Endpoints that are not published are left to the service's own health check.
	internal := &stack.Service{Name: "internal", Image: "kargo/mapserver:8.0",
		Endpoints: []stack.Endpoint{{Kind: stack.WMS, Port: 80, Path: "/wms", Layers: []string{"roads"}}}}
	st := stack.New("maps", ms, internal, &stack.Service{Name: "worker", Image: "busybox"})
	_, _, err := c.run(st, "apply")
	require.NoError(t, err)

	out, _, err := c.run(st, "status", "-o", "json")
	require.NoError(t, err)
	var sts []swarmx.ServiceStatus
	require.NoError(t, json.Unmarshal([]byte(out), &sts))
	require.Len(t, sts, 3)
	assert.Empty(t, sts[0].Endpoints, "maps_internal publishes nothing to probe")
	assert.Equal(t, "ready", sts[1].Endpoints, "maps_mapserver")
	assert.Empty(t, sts[2].Endpoints, "a service without endpoints is not probed")

	c.readyErr = errors.New("WMS: capabilities lack layer roads")
	out, _, err = c.run(st, "status")
	require.NoError(t, err)
	assert.Contains(t, out, "failing: WMS: capabilities lack layer roads")
}

func TestEngineErrorsAreFailuresNotUsage(t *testing.T) {
	c := newCLI(t)
	// Engine errors can contain words cobra uses in its usage errors.
	c.openErr = errors.New("dial unix /var/run/docker.sock: connect: invalid argument; requires a swarm manager")
	_, _, err := c.run(mapsStack(), "plan")
	require.Error(t, err)
	assert.Equal(t, kargo.ExitFailure, kargo.ExitCode(err), "%v", err)

	_, _, err = c.run(mapsStack(), "plan", "extra-arg")
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err), "%v", err)
	_, _, err = c.run(mapsStack(), "apply", "--timeout", "soon")
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err), "%v", err)

	err = kargo.Run(context.Background(), []string{"logs", "db"}, nil, kargo.Options{})
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err), "a nil stack is bad usage, not a panic")
}

func TestOutputFlagOnlyWhereItMeansSomething(t *testing.T) {
	c := newCLI(t)
	_, _, err := c.run(mapsStack(), "render", "-o", "json")
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err), "render takes --format, not --output: %v", err)
	_, _, err = c.run(mapsStack(), "rm", "-o", "json")
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err), "%v", err)
	out, _, err := c.run(mapsStack(), "plan", "-o", "json")
	require.NoError(t, err)
	assert.True(t, json.Valid([]byte(out)))
}

func TestMissingSecretSourceIsBadInput(t *testing.T) {
	c := newCLI(t)
	st := stack.New("maps", &stack.Service{Name: "db", Image: "busybox", Secrets: []stack.FileRef{{Source: "pw"}}},
		stack.Secret{Name: "pw", Env: "KARGO_TEST_UNSET_PASSWORD_VAR"})
	_, _, err := c.run(st, "plan")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KARGO_TEST_UNSET_PASSWORD_VAR")
	assert.Equal(t, kargo.ExitUsage, kargo.ExitCode(err))
	assert.Empty(t, c.engine.Mutations())
}

// SIGINT or SIGTERM during apply: "interrupted", a non-zero exit, and the next apply converges
// and says which service it found not converged.
func TestApplyInterrupted(t *testing.T) {
	c := newCLI(t)
	_, _, err := c.run(mapsStack(), "apply")
	require.NoError(t, err)
	changed := mapsStack()
	changed.Service("mapserver").Env = map[string]string{"DEBUG": "1"}
	c.engine.Stall["maps_mapserver"] = true

	// Interrupt once the update reached the engine (and apply waits on it), however long
	// rendering took on a loaded machine.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			for _, call := range c.engine.CallsTo("ServiceUpdate") {
				if call.Name == "maps_mapserver" {
					time.Sleep(100 * time.Millisecond)
					return
				}
			}
		}
	}()
	var out, errb bytes.Buffer
	err = kargo.Run(ctx, []string{"apply"}, changed, kargo.Options{Stdout: &out, Stderr: &errb,
		Engine: func() (kargo.Engine, error) { return c.engine, nil }})
	require.Error(t, err)
	var ie *kargo.InterruptedError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, kargo.ExitInterrupted, kargo.ExitCode(err))
	assert.True(t, strings.HasPrefix(err.Error(), "interrupted: "), err.Error())
	assert.Contains(t, err.Error(), `service "mapserver"`)

	out2, _, err := c.run(changed, "plan")
	require.NoError(t, err)
	assert.Contains(t, out2, "! service maps_mapserver [not converged: updating in progress")

	go func() {
		time.Sleep(100 * time.Millisecond)
		c.engine.FinishUpdate("maps_mapserver")
	}()
	out2, _, err = c.run(changed, "apply")
	require.NoError(t, err)
	assert.Contains(t, out2, "stack maps applied: 0 change(s), 0 engine call(s); not converged before, converged now: maps_mapserver")
}

// A scheduled job that never ran shows "not yet" and its next run in status, with no stray
// spaces where the last run would be.
func TestStatusTextOfAJobThatNeverRan(t *testing.T) {
	c := newCLI(t)
	job := &stack.Service{Name: "nightly", Image: "busybox", Mode: stack.ReplicatedJob, Schedule: "0 0 3 * * *"}
	st := stack.New("maps", job)
	_, _, err := c.run(st, "apply", "--wait=false")
	require.NoError(t, err)
	out, _, err := c.run(st, "status")
	require.NoError(t, err)
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "maps_nightly ") {
			line = l
		}
	}
	require.NotEmpty(t, line, out)
	assert.Regexp(t, `  not yet \(next 20\d\d-\d\d-\d\dT03:00:00Z\)\s*$`, line)
}

package main

// Integration tests of the hello example on the machine's real Swarm (see internal/enginetest:
// they fail, never skip, without an engine). Each test uses its own stack name and host port
// (18081-18089) so they run in parallel.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/internal/enginetest"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// brokenImage starts and exits at once with status 3: a bad image to update a service to.
const brokenImage = "hello/broken:1"

func init() {
	images.Register(images.Image{Ref: brokenImage, Context: func(context.Context) (map[string]images.File, error) {
		return map[string]images.File{"Dockerfile": {Mode: 0o644, Data: []byte(
			"FROM debian:bookworm-slim\nCMD [\"sh\", \"-c\", \"echo broken on purpose >&2; exit 3\"]\n")}}, nil
	}})
}

var (
	buildOnce sync.Once
	buildErr  error
)

// setup returns an Applier on the real engine with the example's images built (once per test
// binary, before the parallel tests apply), and removes the stack now and when the test ends.
func setup(t *testing.T, name string) (*swarmx.Applier, *client.Client) {
	t.Helper()
	a := enginetest.Applier(t)
	c := enginetest.Require(t)
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		buildErr = a.Images.EnsureImages(ctx, []string{WebImage, GreeterImage, brokenImage}, enginetest.LogWriter(t))
	})
	require.NoError(t, buildErr, "build the example's images")
	enginetest.Cleanup(t, a, name)
	return a, c
}

// inspect returns the live service <stack>_<name>.
func inspect(t *testing.T, c *client.Client, stackName, name string) swarm.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.ServiceInspect(ctx, stackName+"_"+name, client.ServiceInspectOptions{})
	require.NoError(t, err)
	return r.Service
}

// eventually polls cond every 500ms until it holds or the timeout passes (a bounded loop),
// and fails the test with cond's last explanation.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func status(t *testing.T, a *swarmx.Applier, name string) map[string]swarmx.ServiceStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sts, err := a.Status(ctx, name)
	require.NoError(t, err)
	out := map[string]swarmx.ServiceStatus{}
	for _, s := range sts {
		out[strings.TrimPrefix(s.Name, name+"_")] = s
	}
	return out
}

// leftovers lists the objects still labelled with the stack's namespace, by kind.
func leftovers(t *testing.T, c *client.Client, name string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := client.Filters{}.Add("label", stack.LabelNamespace+"="+name)
	out := map[string][]string{}
	svcs, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	require.NoError(t, err)
	for _, s := range svcs.Items {
		out["services"] = append(out["services"], s.Spec.Name)
	}
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	require.NoError(t, err)
	for _, n := range nets.Items {
		out["networks"] = append(out["networks"], n.Name)
	}
	secs, err := c.SecretList(ctx, client.SecretListOptions{Filters: f})
	require.NoError(t, err)
	for _, s := range secs.Items {
		out["secrets"] = append(out["secrets"], s.Spec.Name)
	}
	cfgs, err := c.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	require.NoError(t, err)
	for _, x := range cfgs.Items {
		out["configs"] = append(out["configs"], x.Spec.Name)
	}
	vols, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	require.NoError(t, err)
	for _, v := range vols.Items {
		out["volumes"] = append(out["volumes"], v.Name)
	}
	return out
}

func greet(port uint32) string { return fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/greet", port) }

// TestHelloLifecycle applies the example, re-applies it unchanged, changes one env var, and
// removes it (volumes kept, then removed), checking the engine at every step.
func TestHelloLifecycle(t *testing.T) {
	t.Parallel()
	cfg := Config{Name: "hello-it-life", Port: 18081}
	a, c := setup(t, cfg.Name)

	start := time.Now()
	res := enginetest.Apply(t, a, New(cfg), swarmx.ApplyOptions{Timeout: 2 * time.Minute})
	t.Logf("first apply: %s, %d mutations", time.Since(start).Round(time.Millisecond), res.Mutations)
	assert.Len(t, res.Plan.Changes(), 6, res.Plan.String())
	for _, name := range []string{"greeter", "web"} {
		s := status(t, a, cfg.Name)[name]
		assert.Equal(t, uint64(1), s.Desired, name)
		assert.Equal(t, uint64(1), s.Running, name)
		assert.Equal(t, "healthy", s.Health, name)
	}
	// The web front reaches the greeter by service name over the overlay network, with the
	// generated token; the greeter answers with its config file and env var.
	body := string(enginetest.Get(t, greet(cfg.Port), time.Minute))
	assert.Contains(t, body, "Hello, world! (visit 1)")
	assert.Contains(t, string(enginetest.Get(t, greet(cfg.Port), 10*time.Second)), "(visit 2)")
	assert.Contains(t, string(enginetest.Get(t, fmt.Sprintf("http://127.0.0.1:%d/", cfg.Port), 10*time.Second)), "hello from kargo")

	// Re-applying the same stack changes nothing.
	res = enginetest.Apply(t, a, New(cfg), swarmx.ApplyOptions{Timeout: time.Minute})
	assert.Equal(t, 0, res.Mutations)
	assert.Empty(t, res.Plan.Changes(), res.Plan.String())
	for _, act := range res.Plan.Actions {
		assert.Equal(t, swarmx.Unchanged, act.Op, act.String())
	}

	// docker stack sees the stack Kargo applied.
	assert.Regexp(t, `(?m)^`+cfg.Name+`\s+2\b`, enginetest.Docker(t, "stack", "ls"))
	svcs := enginetest.Docker(t, "stack", "services", "--format", "{{.Name}} {{.Replicas}}", cfg.Name)
	assert.Contains(t, svcs, cfg.Name+"_greeter 1/1")
	assert.Contains(t, svcs, cfg.Name+"_web 1/1")

	// The CLI's status, as a deploy program runs it, against the real engine.
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, kargo.Run(ctx, []string{"status", "-o", "json"}, New(cfg), kargo.Options{Stdout: &out, Stderr: &errOut}), errOut.String())
	var sts []swarmx.ServiceStatus
	require.NoError(t, json.Unmarshal(out.Bytes(), &sts), out.String())
	require.Len(t, sts, 2, out.String())
	for _, s := range sts {
		assert.Contains(t, []string{cfg.Name + "_greeter", cfg.Name + "_web"}, s.Name)
		assert.Equal(t, uint64(1), s.Running, s.Name)
		assert.Equal(t, uint64(1), s.Desired, s.Name)
		assert.Equal(t, "healthy", s.Health, s.Name)
	}
	assert.Equal(t, []string{"18081:80/tcp (host)"}, sts[1].Ports)

	// The CLI's logs: the web front's httpd logs the answers to the requests made above.
	out.Reset()
	errOut.Reset()
	require.NoError(t, kargo.Run(ctx, []string{"logs", "web", "--tail", "100"}, New(cfg), kargo.Options{Stdout: &out, Stderr: &errOut}), errOut.String())
	assert.Contains(t, out.String(), "response:200", "web logs:\n%s", out.String())
	assert.NotContains(t, out.String(), "\x01", "stream headers are decoded, not printed")

	// Changing one env var of the greeter updates the greeter only.
	webBefore := inspect(t, c, cfg.Name, "web")
	greeterBefore := inspect(t, c, cfg.Name, "greeter")
	changed := cfg
	changed.Who = "kargo"
	plan, err := a.Plan(ctx, New(changed))
	require.NoError(t, err)
	require.Len(t, plan.Changes(), 1, plan.String())
	act := plan.Changes()[0]
	assert.Equal(t, swarmx.Action{Kind: swarmx.KindService, Name: cfg.Name + "_greeter", Op: swarmx.Update,
		Changes: []string{"TaskTemplate.ContainerSpec.Env.HELLO_NAME"}}, act)
	start = time.Now()
	res = enginetest.Apply(t, a, New(changed), swarmx.ApplyOptions{Timeout: 2 * time.Minute})
	t.Logf("env update: %s", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, 1, res.Mutations)
	webAfter := inspect(t, c, cfg.Name, "web")
	assert.Equal(t, webBefore.Version, webAfter.Version, "web must not be updated")
	assert.Equal(t, webBefore.UpdatedAt, webAfter.UpdatedAt, "web must not be updated")
	greeterAfter := inspect(t, c, cfg.Name, "greeter")
	assert.Greater(t, greeterAfter.Version.Index, greeterBefore.Version.Index)
	assert.Contains(t, greeterAfter.Spec.TaskTemplate.ContainerSpec.Env, "HELLO_NAME=kargo")
	// The visits volume survived the greeter's new task.
	assert.Contains(t, string(enginetest.Get(t, greet(cfg.Port), time.Minute)), "Hello, kargo! (visit 3)")

	// rm keeps the volumes, then removes them when asked.
	rmCtx, rmCancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer rmCancel()
	start = time.Now()
	require.NoError(t, a.Remove(rmCtx, cfg.Name, swarmx.RemoveOptions{}))
	t.Logf("rm: %s", time.Since(start).Round(time.Millisecond))
	left := leftovers(t, c, cfg.Name)
	// The generated API token stays with the volume it may have been used for.
	assert.Equal(t, map[string][]string{"volumes": {cfg.Name + "_visits"}, "secrets": {cfg.Name + "_api_token"}}, left)
	require.NoError(t, a.Remove(rmCtx, cfg.Name, swarmx.RemoveOptions{Volumes: true}))
	assert.Empty(t, leftovers(t, c, cfg.Name))
	assert.NotRegexp(t, `(?m)^`+cfg.Name+`\s`, enginetest.Docker(t, "stack", "ls"))
}

// failedUpdate applies the stack, then the changed one, which must fail on the greeter and be
// rolled back to the spec it ran before.
func failedUpdate(t *testing.T, cfg Config, change func(greeter *stack.Service)) *swarmx.ServiceError {
	t.Helper()
	a, c := setup(t, cfg.Name)
	enginetest.Apply(t, a, New(cfg), swarmx.ApplyOptions{Timeout: 2 * time.Minute})
	before := inspect(t, c, cfg.Name, "greeter")
	webBefore := inspect(t, c, cfg.Name, "web")

	bad := New(cfg)
	change(bad.Service("greeter"))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	_, err := a.Apply(ctx, bad, swarmx.ApplyOptions{Timeout: 3 * time.Minute})
	t.Logf("failed update returned after %s: %v", time.Since(start).Round(time.Millisecond), err)
	var se *swarmx.ServiceError
	require.True(t, errors.As(err, &se), "want a *swarmx.ServiceError, got %T: %v", err, err)
	assert.Equal(t, cfg.Name, se.Stack)
	assert.Equal(t, "greeter", se.Service)
	assert.True(t, se.RolledBack, "rolled back: %v", err)
	assert.NotEmpty(t, se.TaskError, "task error: %v", err)
	assert.Contains(t, err.Error(), `service "greeter"`)

	// The greeter runs its previous spec again, and the web front was not touched.
	after := inspect(t, c, cfg.Name, "greeter")
	assert.Equal(t, before.Spec.Labels[stack.LabelHash], after.Spec.Labels[stack.LabelHash])
	assert.Equal(t, before.Spec.TaskTemplate.ContainerSpec.Image, after.Spec.TaskTemplate.ContainerSpec.Image)
	assert.Equal(t, before.Spec.TaskTemplate.ContainerSpec.Healthcheck, after.Spec.TaskTemplate.ContainerSpec.Healthcheck)
	require.NotNil(t, after.UpdateStatus)
	assert.Equal(t, swarm.UpdateStateRollbackCompleted, after.UpdateStatus.State)
	assert.Equal(t, webBefore.Version, inspect(t, c, cfg.Name, "web").Version)
	// Status tells the truth: the tasks run and are healthy, but on the previous spec, not
	// on the stack's.
	eventually(t, "greeter running its previous spec", time.Minute, func() (bool, string) {
		s := status(t, a, cfg.Name)["greeter"]
		return s.Running == 1 && s.Health == "rolled back", fmt.Sprintf("%+v", s)
	})
	assert.Contains(t, string(enginetest.Get(t, greet(cfg.Port), time.Minute)), "Hello, world!")

	// The plan still shows the failed change as pending.
	plan, err := a.Plan(ctx, bad)
	require.NoError(t, err)
	if act, ok := plan.Find(swarmx.KindService, cfg.Name+"_greeter"); assert.True(t, ok) {
		assert.Equal(t, swarmx.Update, act.Op)
	}
	return se
}

// TestHelloRollbackBadImage updates the greeter to an image whose command exits.
func TestHelloRollbackBadImage(t *testing.T) {
	t.Parallel()
	se := failedUpdate(t, Config{Name: "hello-it-badimg", Port: 18082}, func(g *stack.Service) {
		g.Image = brokenImage
	})
	assert.Contains(t, se.TaskError, "exit (3)")
}

// TestHelloRollbackFailingHealth updates the greeter to a health check that never passes.
func TestHelloRollbackFailingHealth(t *testing.T) {
	t.Parallel()
	se := failedUpdate(t, Config{Name: "hello-it-health", Port: 18083}, func(g *stack.Service) {
		g.Health = httpHealth("http://127.0.0.1:8080/no-such-page")
	})
	assert.Contains(t, se.TaskError, "unhealthy")
}

// TestHelloCompose deploys the rendered compose file with the docker CLI under another stack
// name, checks it converges and serves, and removes it with docker stack rm.
func TestHelloCompose(t *testing.T) {
	t.Parallel()
	const name = "hello-it-compose-cli"
	cfg := Config{Name: "hello-it-compose", Port: 18084}
	a, c := setup(t, name)
	d, err := swarmx.Render(New(cfg), swarmx.Source{})
	require.NoError(t, err)
	file, err := swarmx.WriteCompose(d, t.TempDir())
	require.NoError(t, err)

	// --resolve-image never: the images are local, no registry is asked for digests.
	enginetest.Docker(t, "stack", "deploy", "--resolve-image", "never", "--detach=true", "-c", file, name)
	eventually(t, "compose stack converged", 2*time.Minute, func() (bool, string) {
		out, err := exec.Command("docker", "stack", "services", "--format", "{{.Name}} {{.Replicas}}", name).CombinedOutput()
		s := string(out)
		return err == nil && strings.Contains(s, name+"_greeter 1/1") && strings.Contains(s, name+"_web 1/1"), s
	})
	for _, n := range []string{"greeter", "web"} {
		s := status(t, a, name)[n]
		assert.Equal(t, "healthy", s.Health, n)
	}
	assert.Contains(t, string(enginetest.Get(t, greet(cfg.Port), time.Minute)), "Hello, world!")

	enginetest.Docker(t, "stack", "rm", name)
	eventually(t, "compose stack removed", 2*time.Minute, func() (bool, string) {
		left := leftovers(t, c, name)
		delete(left, "volumes") // docker stack rm keeps volumes; Cleanup removes them
		return len(left) == 0, fmt.Sprint(left)
	})
}

// TestHelloJob runs a replicated job to completion, and does not re-run it on an unchanged apply.
func TestHelloJob(t *testing.T) {
	t.Parallel()
	const name = "hello-it-job"
	a, _ := setup(t, name)
	job := func() *stack.Stack {
		return stack.New(name, &stack.Service{
			Name: "once", Image: GreeterImage, Mode: stack.ReplicatedJob, Replicas: stack.Ptr(uint64(2)),
			Command: []string{"sh", "-c", "echo greeted once"},
		})
	}
	start := time.Now()
	enginetest.Apply(t, a, job(), swarmx.ApplyOptions{Timeout: 2 * time.Minute})
	t.Logf("job: %s", time.Since(start).Round(time.Millisecond))
	s := status(t, a, name)["once"]
	assert.Equal(t, "replicated-job", s.Mode)
	assert.Equal(t, uint64(2), s.Desired)
	assert.Equal(t, uint64(2), s.Completed)
	assert.Equal(t, "completed", s.Health)
	res := enginetest.Apply(t, a, job(), swarmx.ApplyOptions{Timeout: time.Minute})
	assert.Equal(t, 0, res.Mutations)
	assert.Equal(t, uint64(2), status(t, a, name)["once"].Completed)
}

// TestHelloPruneAndDrift removes what a stack no longer has (a service and its own network)
// with Prune, and puts back a replica count changed outside Kargo.
func TestHelloPruneAndDrift(t *testing.T) {
	t.Parallel()
	c := enginetest.Require(t)
	a := enginetest.Applier(t)
	name := "hello-it-prune"
	enginetest.Cleanup(t, a, name)
	build := func(withSide bool) *stack.Stack {
		st := stack.New(name, &stack.Service{Name: "main", Image: GreeterImage,
			Command: []string{"sh", "-c", "exec sleep 3600"}})
		if withSide {
			st.Add(stack.Network{Name: "side"}, &stack.Service{Name: "side", Image: GreeterImage,
				Command: []string{"sh", "-c", "exec sleep 3600"}, Networks: []string{"side"}})
		}
		return st
	}
	enginetest.Apply(t, a, build(true), swarmx.ApplyOptions{Timeout: 2 * time.Minute})

	// Out of band: docker service scale.
	enginetest.Docker(t, "service", "scale", "--detach", name+"_main=2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := a.Plan(ctx, build(false))
	require.NoError(t, err)
	act, _ := p.Find(swarmx.KindService, name+"_main")
	assert.Equal(t, swarmx.Update, act.Op, "replicas changed outside kargo: %v", act)
	del, _ := p.Find(swarmx.KindService, name+"_side")
	assert.Equal(t, swarmx.Delete, del.Op)

	enginetest.Apply(t, a, build(false), swarmx.ApplyOptions{Prune: true, Timeout: 2 * time.Minute})
	left := leftovers(t, c, name)
	assert.Equal(t, []string{name + "_main"}, left["services"])
	assert.Equal(t, []string{name + "_default"}, left["networks"], "the side network is pruned")
	assert.Equal(t, uint64(1), status(t, a, name)["main"].Running, "the replica count is back to the stack's")
}

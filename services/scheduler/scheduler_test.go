package scheduler_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

func render(t *testing.T, st *stack.Stack) *swarmx.Desired {
	t.Helper()
	d, err := swarmx.Render(st, swarmx.Source{})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return d
}

func loader() *stack.Service {
	return &stack.Service{Name: "loader", Image: "kargo/gdal:3.6", Mode: stack.ReplicatedJob, Schedule: "0 */10 * * * *"}
}

func TestNewRendersAManagerServiceWithTheSocket(t *testing.T) {
	st := scheduler.Ensure(stack.New("s", loader(), &stack.Service{Name: "web", Image: "nginx"}))
	d := render(t, st)
	svc, ok := d.Service("scheduler")
	if !ok {
		t.Fatal("Ensure added no scheduler to a stack with a scheduled job")
	}
	if svc.Spec.Mode.Replicated == nil || svc.Replicas() != 1 {
		t.Errorf("scheduler mode %+v, want 1 replica", svc.Spec.Mode)
	}
	if got := svc.Spec.TaskTemplate.Placement; got == nil || len(got.Constraints) != 1 || got.Constraints[0] != "node.role==manager" {
		t.Errorf("placement %+v, want node.role==manager", got)
	}
	if img := svc.Spec.TaskTemplate.ContainerSpec.Image; img != scheduler.ImageRef {
		t.Errorf("image %q, want %q", img, scheduler.ImageRef)
	}
	if env := svc.Env()[scheduler.EnvStack]; env != `{{index .Service.Labels "com.docker.stack.namespace"}}` {
		t.Errorf("%s=%q, want the namespace template", scheduler.EnvStack, env)
	}
	// Only the scheduler gets the Docker socket, read-only.
	for _, s := range d.Services {
		n := 0
		for _, m := range s.Spec.TaskTemplate.ContainerSpec.Mounts {
			if strings.Contains(m.Source, "docker.sock") {
				n++
				if m.Type != mount.TypeBind || m.Target != scheduler.Socket || !m.ReadOnly {
					t.Errorf("%s: socket mount %+v, want a read-only bind on %s", s.Logical, m, scheduler.Socket)
				}
			}
		}
		if want := map[bool]int{true: 1, false: 0}[s.Logical == "scheduler"]; n != want {
			t.Errorf("%s: %d docker socket mounts, want %d", s.Logical, n, want)
		}
	}
	if l, _ := d.Service("loader"); l.Spec.Labels[swarmx.LabelSchedule] != "0 */10 * * * *" || l.Spec.Mode.ReplicatedJob == nil {
		t.Errorf("loader: labels %v mode %+v, want a replicated job with the schedule label", l.Spec.Labels, l.Spec.Mode)
	}
	if h := svc.Spec.TaskTemplate.ContainerSpec.Healthcheck; h == nil || h.Test[1] != "/kargo-scheduler" {
		t.Errorf("health %+v, want the scheduler's heartbeat check", h)
	}
}

func TestEnsure(t *testing.T) {
	st := stack.New("s", &stack.Service{Name: "web", Image: "nginx"})
	if scheduler.Ensure(st); len(st.Services) != 1 {
		t.Errorf("Ensure added a scheduler to a stack without scheduled jobs")
	}
	st = stack.New("s", loader(), scheduler.New(scheduler.Config{Name: "cron"}))
	if scheduler.Ensure(st); len(st.Services) != 2 {
		t.Errorf("Ensure added a second scheduler: %d services", len(st.Services))
	}
	st = stack.New("s", loader())
	scheduler.Ensure(scheduler.Ensure(st))
	if len(st.Services) != 2 || st.Service("scheduler") == nil {
		t.Errorf("Ensure twice: %d services, want loader + scheduler", len(st.Services))
	}
	if err := st.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestImageIsRegistered(t *testing.T) {
	if _, ok := images.Lookup(scheduler.ImageRef); !ok {
		t.Fatalf("%s is not registered; known: %v", scheduler.ImageRef, images.Known())
	}
}

// TestContextCompilesAStaticBinary builds the image context with the host Go toolchain.
func TestContextCompilesAStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the scheduler")
	}
	files, err := scheduler.Context(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bin := files["kargo-scheduler"].Data
	if !bytes.HasPrefix(bin, []byte("\x7fELF")) {
		t.Fatalf("kargo-scheduler is not an ELF binary (%d bytes)", len(bin))
	}
	// A static binary has no program interpreter (PT_INTERP names /lib64/ld-linux...).
	if bytes.Contains(bin, []byte("/lib64/ld-linux")) || bytes.Contains(bin, []byte("/lib/ld-musl")) {
		t.Error("kargo-scheduler is dynamically linked")
	}
	if df := string(files["Dockerfile"].Data); !strings.HasPrefix(df, "FROM scratch") {
		t.Errorf("Dockerfile %q, want FROM scratch", df)
	}
	again, err := scheduler.Context(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again["kargo-scheduler"].Data, bin) {
		t.Error("two builds differ: the image would be rebuilt on every apply")
	}
}

// fakeEngine is a job service with tasks, as the Runner sees it.
type fakeEngine struct {
	services []swarm.Service
	tasks    map[string][]swarm.Task
	updates  []client.ServiceUpdateOptions
}

func (f *fakeEngine) ServiceList(_ context.Context, o client.ServiceListOptions) (client.ServiceListResult, error) {
	return client.ServiceListResult{Items: f.services}, nil
}

func (f *fakeEngine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	for _, s := range f.services {
		if s.ID == id {
			return client.ServiceInspectResult{Service: s}, nil
		}
	}
	return client.ServiceInspectResult{}, context.Canceled
}

func (f *fakeEngine) ServiceUpdate(_ context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	f.updates = append(f.updates, o)
	for i := range f.services {
		if f.services[i].ID == id {
			f.services[i].Spec = o.Spec
			f.services[i].Version.Index++
			f.services[i].JobStatus.JobIteration.Index++
		}
	}
	return client.ServiceUpdateResult{}, nil
}

func (f *fakeEngine) TaskList(_ context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	var out []swarm.Task
	for id, ts := range f.tasks {
		if o.Filters["service"][id] {
			out = append(out, ts...)
		}
	}
	return client.TaskListResult{Items: out}, nil
}

func jobService(id, ns, sched string) swarm.Service {
	return swarm.Service{ID: id, Meta: swarm.Meta{Version: swarm.Version{Index: 7}},
		Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: ns + "_" + id, Labels: map[string]string{
			swarmx.LabelNamespace: ns, swarmx.LabelSchedule: sched}},
			Mode: swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{TotalCompletions: ptr(uint64(1))}}},
		JobStatus: &swarm.JobStatus{}}
}

func task(state swarm.TaskState, iter uint64) swarm.Task {
	return swarm.Task{Status: swarm.TaskStatus{State: state}, JobIteration: &swarm.Version{Index: iter}}
}

func ptr[T any](v T) *T { return &v }

func TestRunnerStartsRunsAndSkipsBusyTicks(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f := &fakeEngine{
		services: []swarm.Service{jobService("job", "s", "*/5 * * * * *"), jobService("other", "t", "* * * * * *")},
		tasks:    map[string][]swarm.Task{"job": {task(swarm.TaskStateComplete, 0)}},
	}
	var log bytes.Buffer
	r := &scheduler.Runner{Client: f, Stack: "s", Log: &log, Now: func() time.Time { return now }}
	ctx := context.Background()
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); len(st) != 1 || st[0].Service != "s_job" || !st[0].Next.Equal(now.Add(5*time.Second)) {
		t.Fatalf("stats %+v, want only s_job, next at +5s", st)
	}
	r.TickDue(ctx) // not due yet
	if len(f.updates) != 0 {
		t.Fatalf("%d updates before the first tick", len(f.updates))
	}

	now = now.Add(5 * time.Second)
	r.TickDue(ctx)
	if len(f.updates) != 1 {
		t.Fatalf("%d updates at the first tick, want 1", len(f.updates))
	}
	u := f.updates[0]
	if u.Version.Index != 7 || u.Spec.TaskTemplate.ForceUpdate != 1 {
		t.Errorf("update version %d force %d, want 7 and 1", u.Version.Index, u.Spec.TaskTemplate.ForceUpdate)
	}
	l := u.Spec.Labels
	if l[scheduler.LabelLast] != "2026-01-01T12:00:05Z" || l[scheduler.LabelNext] != "2026-01-01T12:00:10Z" ||
		l[scheduler.LabelResult] != "running" || l[scheduler.LabelPrevious] != "succeeded" || l[scheduler.LabelRuns] != "1" ||
		l[scheduler.LabelSkipped] != "0" || l[swarmx.LabelSchedule] == "" {
		t.Errorf("labels %v", l)
	}

	// The run is going at the next two ticks: both are skipped, nothing is written.
	f.tasks["job"] = []swarm.Task{task(swarm.TaskStateComplete, 0), task(swarm.TaskStateRunning, 1)}
	for i := 0; i < 2; i++ {
		now = now.Add(5 * time.Second)
		r.TickDue(ctx)
	}
	if len(f.updates) != 1 {
		t.Fatalf("%d updates while the run was going, want none", len(f.updates)-1)
	}
	if st := r.Stats(); st[0].Skipped != 2 {
		t.Errorf("skipped %d, want 2", st[0].Skipped)
	}
	// It failed; the next tick starts a run and records the failure and the skipped ticks.
	f.tasks["job"] = []swarm.Task{task(swarm.TaskStateComplete, 0), task(swarm.TaskStateFailed, 1)}
	now = now.Add(5 * time.Second)
	r.TickDue(ctx)
	if len(f.updates) != 2 {
		t.Fatalf("%d updates, want 2", len(f.updates))
	}
	l = f.updates[1].Spec.Labels
	if l[scheduler.LabelPrevious] != "failed" || l[scheduler.LabelRuns] != "2" || l[scheduler.LabelSkipped] != "2" ||
		f.updates[1].Spec.TaskTemplate.ForceUpdate != 2 {
		t.Errorf("second run: labels %v force %d", l, f.updates[1].Spec.TaskTemplate.ForceUpdate)
	}
	if !strings.Contains(log.String(), "tick skipped") {
		t.Errorf("log does not mention the skipped ticks:\n%s", log.String())
	}
	for _, u := range f.updates {
		if u.Spec.Labels[swarmx.LabelNamespace] != "s" {
			t.Errorf("updated a service of another stack: %v", u.Spec.Labels)
		}
	}
}

func TestRunnerForgetsRemovedAndIgnoresBadSchedules(t *testing.T) {
	f := &fakeEngine{services: []swarm.Service{jobService("a", "s", "not cron"), jobService("b", "s", "@every 1s")}}
	notJob := jobService("c", "s", "* * * * * *")
	notJob.Spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{}}
	f.services = append(f.services, notJob)
	r := &scheduler.Runner{Client: f, Stack: "s"}
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); len(st) != 1 || st[0].Service != "s_b" {
		t.Fatalf("stats %+v, want only s_b", st)
	}
	f.services = nil
	_ = r.Sync(context.Background())
	if st := r.Stats(); len(st) != 0 {
		t.Fatalf("stats %+v after removal, want none", st)
	}
}

func TestResult(t *testing.T) {
	svc := jobService("j", "s", "* * * * * *")
	svc.JobStatus.JobIteration.Index = 3
	svc.Spec.Mode.ReplicatedJob.TotalCompletions = ptr(uint64(2))
	cases := []struct {
		tasks []swarm.Task
		want  string
	}{
		{nil, scheduler.ResultUnknown},
		{[]swarm.Task{task(swarm.TaskStateComplete, 3), task(swarm.TaskStateComplete, 3)}, scheduler.ResultSucceeded},
		{[]swarm.Task{task(swarm.TaskStateComplete, 3), task(swarm.TaskStateFailed, 3)}, scheduler.ResultFailed},
		{[]swarm.Task{task(swarm.TaskStateComplete, 3), task(swarm.TaskStatePending, 3)}, scheduler.ResultRunning},
		// Tasks of older iterations do not count.
		{[]swarm.Task{task(swarm.TaskStateFailed, 2), task(swarm.TaskStateComplete, 3), task(swarm.TaskStateComplete, 3)}, scheduler.ResultSucceeded},
	}
	for i, c := range cases {
		if got := scheduler.Result(svc, c.tasks); got != c.want {
			t.Errorf("case %d: %s, want %s", i, got, c.want)
		}
	}
}

package schedrun_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/schedrun"
	"github.com/kalisio/kargo/internal/syncbuf"
	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// fakeEngine is a job service with tasks, as the Runner sees it. Like the engine, it rejects
// an update made at a version that is not the service's current one. It is safe for the
// Runner's loop and a test to use at the same time.
type fakeEngine struct {
	mu       sync.Mutex
	services []swarm.Service
	tasks    map[string][]swarm.Task
	updates  []client.ServiceUpdateOptions
	rejected int
}

func (f *fakeEngine) ServiceList(_ context.Context, o client.ServiceListOptions) (client.ServiceListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.ServiceListResult{Items: append([]swarm.Service(nil), f.services...)}, nil
}

func (f *fakeEngine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.services {
		if s.ID == id {
			return client.ServiceInspectResult{Service: s}, nil
		}
	}
	return client.ServiceInspectResult{}, errors.New("no such service: " + id)
}

func (f *fakeEngine) ServiceUpdate(_ context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.services {
		if f.services[i].ID != id {
			continue
		}
		if o.Version.Index != f.services[i].Version.Index {
			f.rejected++
			return client.ServiceUpdateResult{}, fmt.Errorf("update out of sequence: version %d, service at %d",
				o.Version.Index, f.services[i].Version.Index)
		}
		f.updates = append(f.updates, o)
		f.services[i].Spec = o.Spec
		f.services[i].Version.Index++
		js := *f.services[i].JobStatus
		js.JobIteration.Index++
		f.services[i].JobStatus = &js
		return client.ServiceUpdateResult{}, nil
	}
	return client.ServiceUpdateResult{}, errors.New("no such service: " + id)
}

func (f *fakeEngine) TaskList(_ context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []swarm.Task
	for id, ts := range f.tasks {
		if o.Filters["service"][id] {
			out = append(out, ts...)
		}
	}
	return client.TaskListResult{Items: out}, nil
}

// bump changes a service behind the Runner's back, like `kargo apply` would.
func (f *fakeEngine) bump(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.services {
		if f.services[i].ID == id {
			f.services[i].Version.Index++
		}
	}
}

func (f *fakeEngine) counts() (updates, rejected int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.updates), f.rejected
}

func jobService(id, ns, sched string) swarm.Service {
	return swarm.Service{ID: id, Meta: swarm.Meta{Version: swarm.Version{Index: 7}},
		Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: ns + "_" + id, Labels: map[string]string{
			stack.LabelNamespace: ns, stack.LabelSchedule: sched}},
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
	r := &schedrun.Runner{Client: f, Stack: "s", Log: &log, Now: func() time.Time { return now }}
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
	if l[stack.LabelRunLast] != "2026-01-01T12:00:05Z" || l[stack.LabelRunNext] != "2026-01-01T12:00:10Z" ||
		l[stack.LabelRunResult] != "running" || l[stack.LabelRunPrevious] != "succeeded" || l[stack.LabelRunRuns] != "1" ||
		l[stack.LabelRunSkipped] != "0" || l[stack.LabelSchedule] == "" {
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
	if l[stack.LabelRunPrevious] != "failed" || l[stack.LabelRunRuns] != "2" || l[stack.LabelRunSkipped] != "2" ||
		f.updates[1].Spec.TaskTemplate.ForceUpdate != 2 {
		t.Errorf("second run: labels %v force %d", l, f.updates[1].Spec.TaskTemplate.ForceUpdate)
	}
	if !strings.Contains(log.String(), "tick skipped") {
		t.Errorf("log does not mention the skipped ticks:\n%s", log.String())
	}
	for _, u := range f.updates {
		if u.Spec.Labels[stack.LabelNamespace] != "s" {
			t.Errorf("updated a service of another stack: %v", u.Spec.Labels)
		}
	}
}

func TestRunnerForgetsRemovedAndIgnoresBadSchedules(t *testing.T) {
	f := &fakeEngine{services: []swarm.Service{jobService("a", "s", "not cron"), jobService("b", "s", "@every 1s")}}
	notJob := jobService("c", "s", "* * * * * *")
	notJob.Spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{}}
	f.services = append(f.services, notJob)
	r := &schedrun.Runner{Client: f, Stack: "s"}
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
		{nil, stack.RunUnknown},
		{[]swarm.Task{task(swarm.TaskStateComplete, 3), task(swarm.TaskStateComplete, 3)}, stack.RunSucceeded},
		{[]swarm.Task{task(swarm.TaskStateComplete, 3), task(swarm.TaskStateFailed, 3)}, stack.RunFailed},
		{[]swarm.Task{task(swarm.TaskStateComplete, 3), task(swarm.TaskStatePending, 3)}, stack.RunRunning},
		// Tasks of older iterations do not count.
		{[]swarm.Task{task(swarm.TaskStateFailed, 2), task(swarm.TaskStateComplete, 3), task(swarm.TaskStateComplete, 3)}, stack.RunSucceeded},
	}
	for i, c := range cases {
		if got := schedrun.Result(svc, c.tasks); got != c.want {
			t.Errorf("case %d: %s, want %s", i, got, c.want)
		}
	}
}

// The loop never sleeps longer than the heartbeat interval, whatever the refresh: with a
// refresh of 2 minutes and a health check allowing 1 minute, Swarm would kill the schedrun.
func TestRunnerSleepIsCappedForTheHeartbeat(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r := &schedrun.Runner{Client: &fakeEngine{}, Stack: "s", Now: func() time.Time { return now }}
	if d := r.Sleep(now, now, 2*time.Minute); d != schedrun.MaxHeartbeatInterval {
		t.Errorf("refresh 2m, no job: sleeps %s, want %s", d, schedrun.MaxHeartbeatInterval)
	}
	if d := r.Sleep(now, now, 3*time.Second); d != 3*time.Second {
		t.Errorf("refresh 3s: sleeps %s, want 3s", d)
	}
	if d := r.Sleep(now, now.Add(-time.Hour), 2*time.Minute); d != 10*time.Millisecond {
		t.Errorf("sync overdue: sleeps %s, want the 10ms floor", d)
	}
	f := &fakeEngine{services: []swarm.Service{jobService("job", "s", "*/7 * * * * *")}}
	r = &schedrun.Runner{Client: f, Stack: "s", Now: func() time.Time { return now }, HeartbeatInterval: time.Hour}
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := r.Sleep(now, now, 2*time.Minute); d != 7*time.Second {
		t.Errorf("job due at +7s: sleeps %s, want 7s", d)
	}
	if d := r.Sleep(now.Add(7*time.Second), now, 2*time.Minute); d != 10*time.Millisecond {
		t.Errorf("job due now: sleeps %s, want 10ms", d)
	}
	r.HeartbeatInterval = 2 * time.Second
	if d := r.Sleep(now, now, 2*time.Minute); d != 2*time.Second {
		t.Errorf("heartbeat every 2s: sleeps %s, want 2s", d)
	}
}

// Run, engine-free: it syncs every refresh (a job added while it runs is picked up), starts
// runs on schedule at the service's current version (an apply that bumped it in between
// included), and beats even when the refresh is long.
func TestRunStartsRunsAndBeats(t *testing.T) {
	f := &fakeEngine{services: []swarm.Service{jobService("a", "s", "* * * * * *")}, tasks: map[string][]swarm.Task{}}
	var log syncbuf.Buffer
	var mu sync.Mutex
	beats := 0
	r := &schedrun.Runner{Client: f, Stack: "s", Log: &log, Refresh: 100 * time.Millisecond,
		Heartbeat: func() { mu.Lock(); beats++; mu.Unlock() }}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	time.Sleep(300 * time.Millisecond)
	f.bump("a")
	f.mu.Lock()
	f.services = append(f.services, jobService("b", "s", "* * * * * *"))
	f.mu.Unlock()
	runs := func() map[string]int {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := map[string]int{}
		for _, s := range f.services {
			n[s.ID] = atoi(s.Spec.Labels[stack.LabelRunRuns])
		}
		return n
	}
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if n := runs(); n["a"] >= 3 && n["b"] >= 2 {
			break
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
	n := runs()
	if n["a"] < 3 || n["b"] < 2 {
		t.Errorf("runs %v, want a >= 3 and b (added while running) >= 2 in 6 s of a 1 s schedule\n%s", n, log.String())
	}
	if _, rejected := f.counts(); rejected != 0 {
		t.Errorf("%d updates at a stale version\n%s", rejected, log.String())
	}
	mu.Lock()
	b := beats
	mu.Unlock()
	if b < 10 {
		t.Errorf("%d heartbeats with a 100 ms refresh, want >= 10", b)
	}

	// A long refresh and no job: the loop still beats every HeartbeatInterval.
	f = &fakeEngine{}
	beats = 0
	r = &schedrun.Runner{Client: f, Stack: "s", Refresh: time.Hour, HeartbeatInterval: 50 * time.Millisecond,
		Heartbeat: func() { mu.Lock(); beats++; mu.Unlock() }}
	ctx, cancel = context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if beats < 5 {
		t.Errorf("%d heartbeats in 600 ms with a 1 h refresh and a 50 ms heartbeat interval, want >= 5", beats)
	}
}

// The fake engine, like the real one, refuses an update made from a stale read.
func TestFakeEngineRejectsStaleVersions(t *testing.T) {
	f := &fakeEngine{services: []swarm.Service{jobService("a", "s", "* * * * * *")}}
	ctx := context.Background()
	insp, _ := f.ServiceInspect(ctx, "a", client.ServiceInspectOptions{})
	f.bump("a")
	if _, err := f.ServiceUpdate(ctx, "a", client.ServiceUpdateOptions{Version: insp.Service.Version, Spec: insp.Service.Spec}); err == nil {
		t.Fatal("an update at a stale version was accepted")
	}
	insp, _ = f.ServiceInspect(ctx, "a", client.ServiceInspectOptions{})
	if _, err := f.ServiceUpdate(ctx, "a", client.ServiceUpdateOptions{Version: insp.Service.Version, Spec: insp.Service.Spec}); err != nil {
		t.Fatalf("an update at the current version: %v", err)
	}
}

// An invalid schedule is logged once per distinct schedule string, not at every sync.
func TestInvalidScheduleIsLoggedOnce(t *testing.T) {
	f := &fakeEngine{services: []swarm.Service{jobService("a", "s", "not cron")}}
	var log bytes.Buffer
	r := &schedrun.Runner{Client: f, Stack: "s", Log: &log}
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_ = r.Sync(ctx)
	}
	if n := strings.Count(log.String(), "invalid schedule"); n != 1 {
		t.Fatalf("5 syncs of one bad schedule: logged %d times, want 1\n%s", n, log.String())
	}
	f.services[0].Spec.Labels[stack.LabelSchedule] = "still not cron"
	for i := 0; i < 3; i++ {
		_ = r.Sync(ctx)
	}
	if n := strings.Count(log.String(), "invalid schedule"); n != 2 {
		t.Fatalf("another bad schedule: logged %d times in all, want 2\n%s", n, log.String())
	}
	f.services[0].Spec.Labels[stack.LabelSchedule] = "*/5 * * * * *"
	_ = r.Sync(ctx)
	if st := r.Stats(); len(st) != 1 {
		t.Fatalf("fixed schedule: stats %+v", st)
	}
	f.services[0].Spec.Labels[stack.LabelSchedule] = "not cron"
	_ = r.Sync(ctx)
	_ = r.Sync(ctx)
	if n := strings.Count(log.String(), "invalid schedule"); n != 3 {
		t.Errorf("broken again after a fix: logged %d times in all, want 3\n%s", n, log.String())
	}
}

// Schedules are in UTC whatever the clock's zone, unless prefixed with CRON_TZ=.
func TestSchedulesAreUTCUnlessCronTZ(t *testing.T) {
	east := time.FixedZone("UTC+5", 5*3600)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).In(east) // 17:00 local
	f := &fakeEngine{services: []swarm.Service{jobService("utc", "s", "0 0 3 * * *"),
		jobService("paris", "s", "CRON_TZ=Europe/Paris 0 0 3 * * *")}}
	r := &schedrun.Runner{Client: f, Stack: "s", Now: func() time.Time { return now }}
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{
		"s_utc":   time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC),
		"s_paris": time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC), // CET is UTC+1 in January
	}
	st := r.Stats()
	if len(st) != 2 {
		t.Fatalf("stats %+v, want 2 jobs", st)
	}
	for _, s := range st {
		if !s.Next.Equal(want[s.Service]) {
			t.Errorf("%s: next %s, want %s", s.Service, s.Next.UTC(), want[s.Service])
		}
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// metricLines returns the samples of WriteMetrics, by "name{labels}".
func metricLines(t *testing.T, r *schedrun.Runner) map[string]string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteMetrics(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(b.String(), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, " ")
		if !ok {
			t.Fatalf("bad sample line %q", l)
		}
		out[k] = v
	}
	return out
}

func TestMetricsTellRunsResultsAndMissedTicks(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f := &fakeEngine{
		services: []swarm.Service{jobService("job", "s", "*/5 * * * * *"), jobService("other", "t", "* * * * * *")},
		tasks:    map[string][]swarm.Task{"job": {task(swarm.TaskStateComplete, 0)}},
	}
	r := &schedrun.Runner{Client: f, Stack: "s", Now: func() time.Time { return now }}
	ctx := context.Background()
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(when string, want map[string]string, absent ...string) {
		t.Helper()
		got := metricLines(t, r)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", when, k, got[k], v)
			}
		}
		for _, k := range absent {
			if _, ok := got[k]; ok {
				t.Errorf("%s: %s present (%s), want absent", when, k, got[k])
			}
		}
		for k := range got {
			if strings.Contains(k, "other") {
				t.Errorf("%s: a job of another stack: %s", when, k)
			}
		}
	}
	t0 := now.Unix()
	// Applied, not run by the scheduler yet: the apply's run succeeded, no tick came.
	check("after apply", map[string]string{
		`kargo_job_last_run_timestamp_seconds{service="job"}`: "0",
		`kargo_job_last_run_success{service="job"}`:           "1",
		`kargo_job_due_timestamp_seconds{service="job"}`:      "0",
		`kargo_job_next_run_timestamp_seconds{service="job"}`: fmt.Sprint(t0 + 5),
		`kargo_job_running{service="job"}`:                    "0",
	})
	now = now.Add(5 * time.Second)
	r.TickDue(ctx)
	f.tasks["job"] = []swarm.Task{task(swarm.TaskStateComplete, 0), task(swarm.TaskStateRunning, 1)}
	check("first run going", map[string]string{
		`kargo_job_last_run_timestamp_seconds{service="job"}`: fmt.Sprint(t0 + 5),
		`kargo_job_due_timestamp_seconds{service="job"}`:      fmt.Sprint(t0 + 5),
		`kargo_job_running{service="job"}`:                    "1",
		`kargo_job_runs_total{service="job"}`:                 "1",
	}, `kargo_job_last_run_success{service="job"}`)
	// Two ticks skipped: the last due tick is later than the last run's start.
	for i := 0; i < 2; i++ {
		now = now.Add(5 * time.Second)
		r.TickDue(ctx)
	}
	check("ticks skipped", map[string]string{
		`kargo_job_last_run_timestamp_seconds{service="job"}`: fmt.Sprint(t0 + 5),
		`kargo_job_due_timestamp_seconds{service="job"}`:      fmt.Sprint(t0 + 15),
		`kargo_job_skipped_ticks{service="job"}`:              "2",
	})
	f.tasks["job"] = []swarm.Task{task(swarm.TaskStateComplete, 0), task(swarm.TaskStateFailed, 1)}
	check("run failed", map[string]string{
		`kargo_job_last_run_success{service="job"}`: "0",
		`kargo_job_running{service="job"}`:          "0",
	})
	// The next tick starts a run on time again.
	now = now.Add(5 * time.Second)
	r.TickDue(ctx)
	check("next run", map[string]string{
		`kargo_job_last_run_timestamp_seconds{service="job"}`: fmt.Sprint(t0 + 20),
		`kargo_job_due_timestamp_seconds{service="job"}`:      fmt.Sprint(t0 + 20),
		`kargo_job_skipped_ticks{service="job"}`:              "0",
		`kargo_job_runs_total{service="job"}`:                 "2",
	})
}

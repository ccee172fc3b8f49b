package scheduler_test

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/enginetest"
	"github.com/kalisio/kargo/internal/schedrun"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// span is what a task's life looked like from outside: from its creation to the time it
// reached a terminal state (a conservative superset of its container's run).
type span struct {
	id, state string
	iter      uint64
	from, to  time.Time
}

// TestSchedulerOnSwarm deploys the scheduler with two jobs on the real Swarm: "fast" (every 3 s,
// runs 1 s) and "slow" (every 2 s, runs 7 s, so most ticks find the previous run still going).
func TestSchedulerOnSwarm(t *testing.T) {
	c := enginetest.Require(t)
	a := enginetest.Applier(t)
	const name = "kxcron"
	enginetest.Cleanup(t, a, name)

	job := func(n, sched, sleep string) *stack.Service {
		return &stack.Service{Name: n, Image: "debian:bookworm-slim", Mode: stack.ReplicatedJob, Schedule: sched,
			Command: []string{"sh", "-c", "echo run; sleep " + sleep},
			Restart: &stack.RestartPolicy{Condition: "none"}}
	}
	st := stack.New(name, job("fast", "*/3 * * * * *", "1"), job("slow", "*/2 * * * * *", "7"))
	scheduler.Ensure(st)
	st.Service(scheduler.DefaultName).Env["KARGO_SCHEDULER_REFRESH"] = "1s"
	// A job on the scheduler's network tries what a taken-over scheduler could: it must get
	// 403 for everything but the calls the scheduler makes. It prints MISMATCH for any other
	// answer (and exits 0, so the test can show its log).
	st.Add(&stack.Service{Name: "probe", Image: "debian:bookworm-slim", Mode: stack.ReplicatedJob,
		Networks: []string{"scheduler-engine"}, DependsOn: []string{"scheduler-proxy"}, Env: map[string]string{"STACK": name},
		Command: []string{"bash", "-c", probeScript}, Restart: &stack.RestartPolicy{Condition: "none"}})
	enginetest.Apply(t, a, st, swarmx.ApplyOptions{})
	ctx := context.Background()
	checkLeastPrivilege(t, c, name)

	// Observe every task of both jobs until each has been run by the scheduler enough times.
	seen := map[string]map[string]*span{"fast": {}, "slow": {}}
	labels := map[string]map[string]string{}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		for job := range seen {
			insp, err := c.ServiceInspect(ctx, name+"_"+job, client.ServiceInspectOptions{})
			if err != nil {
				t.Fatalf("inspect %s: %v", job, err)
			}
			labels[job] = insp.Service.Spec.Labels
			tasks, err := c.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", insp.Service.ID)})
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range tasks.Items {
				record(seen[job], tk)
			}
		}
		if atoi(labels["fast"][stack.LabelRunRuns]) >= 3 && atoi(labels["slow"][stack.LabelRunRuns]) >= 2 &&
			atoi(labels["slow"][stack.LabelRunSkipped]) >= 2 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for job, l := range labels {
		t.Logf("%s: runs=%s skipped=%s last=%s previous=%s next=%s", job, l[stack.LabelRunRuns], l[stack.LabelRunSkipped],
			l[stack.LabelRunLast], l[stack.LabelRunPrevious], l[stack.LabelRunNext])
	}
	if n := atoi(labels["fast"][stack.LabelRunRuns]); n < 3 {
		t.Errorf("fast: the scheduler started %d runs in 90s, want >= 3", n)
	}
	if n := atoi(labels["slow"][stack.LabelRunRuns]); n < 2 {
		t.Errorf("slow: the scheduler started %d runs in 90s, want >= 2", n)
	}
	if n := atoi(labels["slow"][stack.LabelRunSkipped]); n < 2 {
		t.Errorf("slow: %d ticks skipped, want >= 2 (a 7 s run on a 2 s schedule)", n)
	}
	if p := labels["slow"][stack.LabelRunPrevious]; p != stack.RunSucceeded {
		t.Errorf("slow: previous run result %q, want succeeded (a run was cut short?)", p)
	}

	for job, spans := range seen {
		list := make([]*span, 0, len(spans))
		for _, s := range spans {
			list = append(list, s)
		}
		sort.Slice(list, func(i, k int) bool { return list[i].from.Before(list[k].from) })
		iters := map[uint64]bool{}
		for i, s := range list {
			iters[s.iter] = true
			t.Logf("%s task %s iteration %d: %s %s → %s", job, s.id, s.iter, s.state,
				s.from.Format("15:04:05.000"), s.to.Format("15:04:05.000"))
			// Every run finished by itself: no task was stopped by a run started over it.
			if s.state != string(swarm.TaskStateComplete) && !s.to.IsZero() {
				t.Errorf("%s: task %s ended %s, want complete", job, s.id, s.state)
			}
			if i > 0 && !list[i-1].to.IsZero() && s.from.Before(list[i-1].to) {
				t.Errorf("%s: task %s (iteration %d) started at %s before task %s (iteration %d) ended at %s: runs overlap",
					job, s.id, s.iter, s.from.Format(time.RFC3339Nano), list[i-1].id, list[i-1].iter, list[i-1].to.Format(time.RFC3339Nano))
			}
			if i > 0 && list[i-1].to.IsZero() {
				t.Errorf("%s: task %s started while task %s had not ended", job, s.id, list[i-1].id)
			}
		}
		want := 3
		if job == "slow" {
			want = 2
		}
		if len(iters) < want {
			t.Errorf("%s: tasks of %d job iterations observed, want >= %d", job, len(iters), want)
		}
	}

	sts, err := a.Status(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, s := range sts {
		t.Logf("status %s: mode=%s health=%s schedule=%q last=%s result=%s next=%s", s.Name, s.Mode, s.Health,
			s.Schedule, s.LastRun, s.LastResult, s.NextRun)
		if s.Schedule == "" {
			continue
		}
		found++
		if _, err := time.Parse(time.RFC3339, s.LastRun); err != nil {
			t.Errorf("%s: status last run %q: %v", s.Name, s.LastRun, err)
		}
		if next, err := time.Parse(time.RFC3339, s.NextRun); err != nil || next.Before(time.Now().Add(-2*time.Second)) {
			t.Errorf("%s: status next run %q is not a coming time (%v)", s.Name, s.NextRun, err)
		}
		switch s.LastResult {
		case stack.RunRunning, stack.RunSucceeded:
		default:
			t.Errorf("%s: status last result %q, want running or succeeded", s.Name, s.LastResult)
		}
	}
	if found != 2 {
		t.Errorf("status shows %d scheduled jobs, want 2", found)
	}
	// Between two runs of "fast" (1 s every 3 s), status derives the finished run's result.
	succeeded := false
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && !succeeded; time.Sleep(200 * time.Millisecond) {
		sts, err := a.Status(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sts {
			succeeded = succeeded || (s.Name == name+"_fast" && s.LastResult == stack.RunSucceeded)
		}
	}
	if !succeeded {
		t.Error("status never showed a succeeded last run of fast in 10 s")
	}
}

// probeScript sends raw HTTP requests to the socket proxy from the scheduler's network
// (bash's /dev/tcp: the Debian image has no HTTP client) and checks each status code.
const probeScript = `
req() {
  exec 3<>/dev/tcp/scheduler-proxy/2375 || { echo connect-failed; return; }
  printf '%s %s HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "$1" "$2" "${#3}" "$3" >&3
  read -r _ code _ <&3
  exec 3<&-
  echo "$code"
}
check() {
  got=$(req "$1" "$2" "$3")
  verdict=ok
  [ "$got" = "$4" ] || verdict=MISMATCH
  echo "probe: $1 $2 -> $got (want $4) $verdict"
}
check GET /_ping "" 200
check GET /v1.41/services "" 200
check POST /v1.41/containers/create '{"Image":"debian:bookworm-slim","HostConfig":{"Binds":["/:/host"]}}' 403
check GET /v1.41/containers/json "" 403
check POST /v1.41/containers/x/exec '{"Cmd":["sh"]}' 403
check GET /v1.41/secrets "" 403
check GET /v1.41/configs "" 403
check GET /v1.41/info "" 403
check GET /v1.41/nodes "" 403
check POST /v1.41/services/create '{}' 403
check POST "/v1.41/services/${STACK}_fast/update?version=1" "{\"Name\":\"${STACK}_fast\"}" 403
check GET /v1.41/services/../secrets "" 403
check GET /v1.41/services/%2e%2e/secrets "" 403
`

// checkLeastPrivilege checks what the scheduler of stack name can do: it runs as nobody with
// no socket and one network, the proxy alone has the socket, and the probe job on the
// scheduler's network got 403 for everything the scheduler does not do.
func checkLeastPrivilege(t *testing.T, c *client.Client, name string) {
	t.Helper()
	ctx := context.Background()
	insp, err := c.ServiceInspect(ctx, name+"_"+scheduler.DefaultName, client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs := insp.Service.Spec.TaskTemplate.ContainerSpec
	for _, m := range cs.Mounts {
		if m.Type == "bind" {
			t.Errorf("the scheduler has a bind mount %s -> %s", m.Source, m.Target)
		}
	}
	if cs.User != "65534:65534" {
		t.Errorf("the scheduler runs as %q, want 65534:65534", cs.User)
	}
	if n := insp.Service.Spec.TaskTemplate.Networks; len(n) != 1 {
		t.Errorf("the scheduler joins %d networks, want only the proxy's", len(n))
	}
	proxy, err := c.ServiceInspect(ctx, name+"_scheduler-proxy", client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ms := proxy.Service.Spec.TaskTemplate.ContainerSpec.Mounts; len(ms) != 1 || ms[0].Source != scheduler.Socket || !ms[0].ReadOnly {
		t.Errorf("proxy mounts %+v, want the socket only, read-only", ms)
	}
	logs := enginetest.Docker(t, "service", "logs", "--raw", name+"_probe")
	t.Logf("probe:\n%s", logs)
	if n := strings.Count(logs, "probe: "); n != 13 {
		t.Errorf("the probe made %d checks, want 13", n)
	}
	if strings.Contains(logs, "MISMATCH") {
		t.Error("the proxy answered a call of the probe unexpectedly (see MISMATCH above)")
	}
	tasks, err := c.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", name+"_probe")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks.Items {
		if tk.Status.State != swarm.TaskStateComplete {
			t.Errorf("probe task %s: %s %s", tk.ID, tk.Status.State, tk.Status.Err)
		}
	}
	plogs := enginetest.Docker(t, "service", "logs", "--raw", name+"_scheduler-proxy")
	if !strings.Contains(plogs, "POST \"/v1.41/containers/create\" refused") {
		t.Errorf("the proxy did not log the refused container create:\n%s", plogs)
	}
}

// TestLabelUpdateStartsARun pins the engine behaviour the scheduler is designed around: any
// update of a job service, even one that only changes a label, starts a new job iteration and
// stops the tasks of the running one.
func TestLabelUpdateStartsARun(t *testing.T) {
	c := enginetest.Require(t)
	a := enginetest.Applier(t)
	const name = "kxjobrun"
	enginetest.Cleanup(t, a, name)
	st := stack.New(name, &stack.Service{Name: "job", Image: "debian:bookworm-slim", Mode: stack.ReplicatedJob,
		Command: []string{"sleep", "30"}, Restart: &stack.RestartPolicy{Condition: "none"}})
	enginetest.Apply(t, a, st, swarmx.ApplyOptions{NoWait: true})
	ctx := context.Background()
	insp, err := c.ServiceInspect(ctx, name+"_job", client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := insp.Service.JobStatus.JobIteration.Index
	spec := insp.Service.Spec
	spec.Labels["io.kargo.test"] = "1"
	if _, err := c.ServiceUpdate(ctx, insp.Service.ID, client.ServiceUpdateOptions{Version: insp.Service.Version, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	insp, err = c.ServiceInspect(ctx, name+"_job", client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := insp.Service.JobStatus.JobIteration.Index
	if after <= before {
		t.Fatalf("job iteration %d → %d after a label-only update; the engine no longer starts a run on any update", before, after)
	}
	t.Logf("label-only update: job iteration %d → %d", before, after)
}

func record(m map[string]*span, tk swarm.Task) {
	s := m[tk.ID]
	if s == nil {
		s = &span{id: tk.ID, from: tk.CreatedAt}
		if tk.JobIteration != nil {
			s.iter = tk.JobIteration.Index
		}
		m[tk.ID] = s
	}
	s.state = string(tk.Status.State)
	if schedrun.Active([]swarm.Task{tk}) == 0 && s.to.IsZero() {
		s.to = tk.Status.Timestamp
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

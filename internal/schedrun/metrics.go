package schedrun

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/client"
)

// Metrics of the scheduler, one series per scheduled job, labelled service="<name in the
// stack>" (Prometheus keeps that label with honor_labels; services/monitoring scrapes them
// that way and alerts on them).
const (
	// MetricLastRun is when the job's last run started (label stack.LabelRunLast), 0 when none did.
	MetricLastRun = "kargo_job_last_run_timestamp_seconds"
	// MetricLastSuccess is 1 when the job's last run succeeded, 0 when it failed; absent while
	// a run is going or when no task of it is left.
	MetricLastSuccess = "kargo_job_last_run_success"
	// MetricRunning is 1 while a run of the job is going.
	MetricRunning = "kargo_job_running"
	// MetricDue is the last tick of the job's schedule that came since the scheduler started
	// (0: none yet). A run starts at its tick, so a due tick later than the last run's start
	// is a run that did not start on time (skipped because the previous one was still going,
	// or refused by the engine).
	MetricDue = "kargo_job_due_timestamp_seconds"
	// MetricNext is the job's next tick.
	MetricNext = "kargo_job_next_run_timestamp_seconds"
	// MetricSkipped counts the ticks skipped since the last run the scheduler started.
	MetricSkipped = "kargo_job_skipped_ticks"
	// MetricRuns counts the runs started by the scheduler and `kargo backup` (label stack.LabelRunRuns).
	MetricRuns = "kargo_job_runs_total"
)

type jobMetrics struct {
	service            string
	lastRun, due, next time.Time
	success, running   int // success: -1 when unknown
	skipped, runs      int
}

// WriteMetrics writes the Runner's view of every scheduled job in Prometheus' text format:
// what it knows (next and due ticks, skipped ticks) and what the engine tells of the job's
// last run (its start label, and its result from its tasks).
func (r *Runner) WriteMetrics(ctx context.Context, w io.Writer) error {
	r.mu.Lock()
	var jobs []jobMetrics
	ids := map[string]string{}
	for id, j := range r.jobs {
		name := strings.TrimPrefix(j.name, r.Stack+"_")
		ids[name] = id
		jobs = append(jobs, jobMetrics{service: name, due: j.due, next: j.next, skipped: j.skipped, success: -1})
	}
	r.mu.Unlock()
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].service < jobs[k].service })
	for i := range jobs {
		j := &jobs[i]
		insp, err := r.Client.ServiceInspect(ctx, ids[j.service], client.ServiceInspectOptions{})
		if err != nil {
			return fmt.Errorf("service %s: inspect: %w", j.service, err)
		}
		if insp.Service.Spec.Labels[stack.LabelNamespace] != r.Stack {
			return fmt.Errorf("service %s: not a service of stack %s", j.service, r.Stack)
		}
		tasks, err := r.Client.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", insp.Service.ID)})
		if err != nil {
			return fmt.Errorf("service %s: list tasks: %w", j.service, err)
		}
		labels := insp.Service.Spec.Labels
		if t, err := time.Parse(time.RFC3339, labels[stack.LabelRunLast]); err == nil {
			j.lastRun = t
		}
		j.runs = atoi(labels[stack.LabelRunRuns])
		switch Result(insp.Service, tasks.Items) {
		case stack.RunRunning:
			j.running = 1
		case stack.RunSucceeded:
			j.success = 1
		case stack.RunFailed:
			j.success = 0
		}
	}
	var b strings.Builder
	family := func(name, typ, help string, value func(j jobMetrics) (float64, bool)) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, j := range jobs {
			if v, ok := value(j); ok {
				fmt.Fprintf(&b, "%s{service=%s} %s\n", name, quoteLabel(j.service), strconv.FormatFloat(v, 'f', -1, 64))
			}
		}
	}
	unix := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.Unix())
	}
	family(MetricLastRun, "gauge", "When the last run of a scheduled job started (0: none yet).",
		func(j jobMetrics) (float64, bool) { return unix(j.lastRun), true })
	family(MetricLastSuccess, "gauge", "Whether the last finished run of a scheduled job succeeded.",
		func(j jobMetrics) (float64, bool) { return float64(j.success), j.success >= 0 })
	family(MetricRunning, "gauge", "Whether a run of a scheduled job is going.",
		func(j jobMetrics) (float64, bool) { return float64(j.running), true })
	family(MetricDue, "gauge", "The last tick of a scheduled job's schedule that came (0: none since the scheduler started).",
		func(j jobMetrics) (float64, bool) { return unix(j.due), true })
	family(MetricNext, "gauge", "The next tick of a scheduled job's schedule.",
		func(j jobMetrics) (float64, bool) { return unix(j.next), true })
	family(MetricSkipped, "gauge", "Ticks of a scheduled job skipped since its last run started (the previous run was still going).",
		func(j jobMetrics) (float64, bool) { return float64(j.skipped), true })
	family(MetricRuns, "counter", "Runs of a scheduled job started by the scheduler or kargo backup.",
		func(j jobMetrics) (float64, bool) { return float64(j.runs), true })
	_, err := io.WriteString(w, b.String())
	return err
}

// quoteLabel quotes a label value the way Prometheus' text format reads it.
func quoteLabel(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

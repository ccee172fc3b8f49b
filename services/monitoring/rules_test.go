package monitoring_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/internal/enginetest"
)

// ruleTests are promtool unit tests of the scheduled-job alerts of monStack (2 s interval, so
// an alert fires once its condition held 4 s): "loader" fails its run, "reports" misses a
// tick, the backup's own failure is left to KargoBackupFailed, and the scheduler goes away.
const ruleTests = `rule_files: [rules.yml]
evaluation_interval: 2s
tests:
  - interval: 2s
    input_series:
      - series: 'kargo_job_last_run_success{job="scheduler",instance="s:9262",service="loader"}'
        values: '1 1 0 0 0 0 0 0 0 0'
      - series: 'kargo_job_last_run_success{job="scheduler",instance="s:9262",service="db-backup"}'
        values: '0 0 0 0 0 0 0 0 0 0'
      - series: 'kargo_job_due_timestamp_seconds{job="scheduler",instance="s:9262",service="loader"}'
        values: '0 0 100 100 100 100 100 100 100 100'
      - series: 'kargo_job_last_run_timestamp_seconds{job="scheduler",instance="s:9262",service="loader"}'
        values: '0 0 100 100 100 100 100 100 100 100'
      - series: 'kargo_job_due_timestamp_seconds{job="scheduler",instance="s:9262",service="reports"}'
        values: '0 50 50 50 50 50 50 50 50 50'
      - series: 'kargo_job_last_run_timestamp_seconds{job="scheduler",instance="s:9262",service="reports"}'
        values: '0 0 0 0 0 0 0 0 0 0'
      - series: 'up{job="scheduler",instance="s:9262",service="scheduler"}'
        values: '1 1 1 1 1 1 0 0 0 0'
    alert_rule_test:
      - eval_time: 2s
        alertname: KargoScheduledJobMissedRun
      - eval_time: 10s
        alertname: KargoScheduledJobFailed
        exp_alerts:
          - exp_labels: {severity: critical, job: scheduler, instance: "s:9262", service: loader}
            exp_annotations: {summary: "loader: the last run failed"}
      - eval_time: 10s
        alertname: KargoScheduledJobMissedRun
        exp_alerts:
          - exp_labels: {severity: critical, job: scheduler, instance: "s:9262", service: reports}
            exp_annotations: {summary: "reports: a tick of its schedule came and no run started"}
      - eval_time: 10s
        alertname: KargoSchedulerDown
      - eval_time: 18s
        alertname: KargoSchedulerDown
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations: {summary: "no scheduler task answers: scheduled jobs do not run"}
`

// TestAlertRulesWithPromtool checks the generated rules with the promtool of the image's
// Prometheus: they load, and the scheduled-job alerts fire on the series above (and only
// there).
func TestAlertRulesWithPromtool(t *testing.T) {
	cli := enginetest.Require(t)
	ref := images.Ref("monitoring")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := (&images.Builder{Client: cli}).EnsureImages(ctx, []string{ref}, enginetest.LogWriter(t)); err != nil {
		t.Fatal(err)
	}
	var rules []byte
	for _, c := range monStack().Service("prometheus").Declares.Configs {
		if c.Name == "prometheus-rules" {
			rules = c.Data
		}
	}
	if rules == nil {
		t.Fatal("no rules config")
	}
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for name, data := range map[string][]byte{"rules.yml": rules, "tests.yml": []byte(ruleTests)} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	tw.Close()
	cmd := exec.CommandContext(ctx, "docker", "run", "--rm", "-i", "--network", "none", ref,
		"sh", "-c", "mkdir /tmp/t && cd /tmp/t && tar x && promtool check rules rules.yml && promtool test rules tests.yml")
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	t.Logf("promtool:\n%s", out)
}

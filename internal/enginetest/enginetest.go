// Package enginetest connects integration tests to the real Docker Engine and Swarm of the
// machine, bringing them up with scripts/local-swarm.sh when needed. A test that cannot get
// an engine fails: integration tests never skip silently.
package enginetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/client"
)

var (
	once    sync.Once
	cli     *client.Client
	initErr error
)

// RepoRoot is the root of the kargo repository (where scripts/ lives).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Require returns a client to the local engine with an active Swarm. The first call in a
// test binary runs scripts/local-swarm.sh under a lock (it installs and starts what is
// missing, and is idempotent). It fails the test when the engine cannot be brought up.
func Require(t testing.TB) *client.Client {
	t.Helper()
	once.Do(func() { cli, initErr = bringUp() })
	if initErr != nil {
		t.Fatalf("docker engine with swarm is required for this integration test: %v", initErr)
	}
	return cli
}

func bringUp() (*client.Client, error) {
	script := filepath.Join(RepoRoot(), "scripts", "local-swarm.sh")
	cmd := exec.Command("flock", "/tmp/kargo-local-swarm.lock", "bash", script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", script, err, out)
	}
	c, err := swarmx.NewClient()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, fmt.Errorf("engine info: %w", err)
	}
	if string(info.Info.Swarm.LocalNodeState) != "active" {
		return nil, fmt.Errorf("swarm is %q, want active", info.Info.Swarm.LocalNodeState)
	}
	return c, nil
}

// Applier returns an Applier on the local engine that builds Kargo's images (the scheduler's
// included) when missing and writes its progress to the test log.
func Applier(t testing.TB) *swarmx.Applier {
	t.Helper()
	scheduler.RegisterImages()
	c := Require(t)
	return &swarmx.Applier{Client: c, Progress: LogWriter(t), Images: &images.Builder{Client: c}, Poll: 500 * time.Millisecond}
}

// Cleanup removes the stack (with its volumes) when the test ends, and once now in case an
// earlier run left it behind.
func Cleanup(t testing.TB, a *swarmx.Applier, name string) {
	t.Helper()
	rm := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := a.Remove(ctx, name, swarmx.RemoveOptions{Volumes: true}); err != nil {
			t.Logf("remove stack %s: %v", name, err)
		}
	}
	rm()
	if os.Getenv("KARGO_KEEP") == "" {
		t.Cleanup(rm)
	}
}

// Apply applies the stack and fails the test on error.
func Apply(t testing.TB, a *swarmx.Applier, st *stack.Stack, opts swarmx.ApplyOptions) *swarmx.Result {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	res, err := a.Apply(ctx, st, opts)
	if err != nil {
		t.Fatalf("apply %s: %v", st.Name, err)
	}
	return res
}

// Docker runs the docker CLI and returns its output, failing the test on error.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Get fetches a URL on 127.0.0.1, retrying until it answers with status 200 or the timeout
// passes (a bounded loop). It returns the body of the successful answer.
func Get(t testing.TB, url string, timeout time.Duration) []byte {
	t.Helper()
	if !strings.HasPrefix(url, "http://127.0.0.1") && !strings.HasPrefix(url, "https://127.0.0.1") {
		t.Fatalf("integration tests only talk to 127.0.0.1, not %s", url)
	}
	deadline := time.Now().Add(timeout)
	var last string
	c := &http.Client{Timeout: 10 * time.Second}
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && rerr == nil {
				return b
			}
			last = fmt.Sprintf("status %d: %.300s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("GET %s: no 200 within %s (last: %s)", url, timeout, last)
	return nil
}

type logWriter struct{ t testing.TB }

// Write logs p, without its trailing newlines, as one entry of the test log.
func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// LogWriter writes each line to the test log.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

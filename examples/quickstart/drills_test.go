package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/examples/quickstart/qstack"
	"github.com/kalisio/kargo/internal/enginetest"
	"github.com/kalisio/kargo/ogc"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/client"
)

// The drills run a copy of the quickstart beside it (its own name and ports) and check the
// reliability promises on the real Swarm, printing one "drill NAME: figures" line each.
// scripts/drills.sh runs them with KARGO_DRILLS_LONG=1, which adds longer variants.
const (
	drillStack = "drills"
	drillHTTP  = 38080
	drillHTTPS = 38443
)

var drillBase = fmt.Sprintf("http://127.0.0.1:%d", drillHTTP)

func drillOptions() Options {
	return Options{Name: drillStack, HTTPPort: drillHTTP, HTTPSPort: drillHTTPS}
}

// TestMain lets the drills run the CLI as a user does, in its own process, to send it
// SIGINT: the test binary re-executed with KARGO_DRILL_CLI set is the drills stack's CLI.
func TestMain(m *testing.M) {
	if args := os.Getenv("KARGO_DRILL_CLI"); args != "" {
		o := drillOptions()
		if env := os.Getenv("KARGO_DRILL_MAPSERVER_ENV"); env != "" {
			k, v, _ := strings.Cut(env, "=")
			o.MapServerEnv = map[string]string{k: v}
		}
		o.MapServerHealth = os.Getenv("KARGO_DRILL_MAPSERVER_HEALTH")
		os.Args = append(os.Args[:1], strings.Fields(args)...)
		kargo.Main(Stack(o))
	}
	os.Exit(m.Run())
}

// TestDrills: rolling update under load, SIGINT in the middle of an apply, kills of a
// MapServer and of the PostGIS task, an update whose health never passes, docker stack rm
// then apply, and the rendered compose file deployed with docker stack deploy.
func TestDrills(t *testing.T) {
	long := os.Getenv("KARGO_DRILLS_LONG") != ""
	a := enginetest.Applier(t)
	a.Ready = ogc.Ready("127.0.0.1", nil)
	cli := enginetest.Require(t)
	enginetest.Cleanup(t, a, drillStack)
	c := &ogc.Client{HTTP: &http.Client{Timeout: 20 * time.Second}}

	start := time.Now()
	enginetest.Apply(t, a, Stack(drillOptions()), swarmx.ApplyOptions{})
	enginetest.Get(t, drillBase+"/wms?SERVICE=WMS&REQUEST=GetCapabilities", 90*time.Second)
	report(t, "deploy", "converged and answering in %s", since(start))
	// A row added after the first start: data re-initialised would not have it.
	drillPSQL(t, cli, "INSERT INTO cities (id, name, kind, population, geom) VALUES (1000, 'Kargo', 'village', 1, ST_SetSRID(ST_MakePoint(2.5, 47), 4326))")
	want := Cities + 1
	waitHitsAt(t, c, drillBase, want, time.Minute)

	t.Run("rolling-update-and-sigint", func(t *testing.T) {
		l := startLoad(t, 6*time.Minute)
		// The CLI applies an env change of MapServer (a rolling update) and gets SIGINT once
		// it is waiting for it.
		cmd, stderr := drillCLI(t, []string{"KARGO_DRILL_MAPSERVER_ENV=DRILL=1"}, "apply")
		waiting := waitLine(t, stderr, func(s string) bool {
			return strings.HasPrefix(s, "kargo: service drills_mapserver: ") && !strings.Contains(s, ": update (")
		}, 3*time.Minute)
		if !waiting {
			t.Fatal("the apply never started waiting for MapServer")
		}
		must(t, cmd.Process.Signal(syscall.SIGINT))
		out := drainLines(t, stderr)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != kargo.ExitInterrupted {
			t.Fatalf("interrupted apply: %v, want exit %d", err, kargo.ExitInterrupted)
		}
		if !strings.Contains(out, "kargo: interrupted: ") {
			t.Errorf("no 'interrupted' message in:\n%s", out)
		}
		// In between, status and plan tell the truth: the update is still under way.
		sts, err := a.Status(context.Background(), drillStack)
		must(t, err)
		health := ""
		for _, s := range sts {
			if s.Name == drillStack+"_mapserver" {
				health = fmt.Sprintf("%s %d/%d", s.Health, s.Running, s.Desired)
			}
		}
		p, err := a.Plan(context.Background(), Stack(Options{Name: drillStack, HTTPPort: drillHTTP, HTTPSPort: drillHTTPS,
			MapServerEnv: map[string]string{"DRILL": "1"}}))
		must(t, err)
		act, _ := p.Find(swarmx.KindService, drillStack+"_mapserver")
		if !strings.HasPrefix(health, "updating") || act.Op != swarmx.Converge {
			t.Errorf("after the interrupt: status %q, plan %s; want updating and not converged", health, act)
		}
		// The next apply takes over and converges.
		phase := time.Now()
		res := enginetest.Apply(t, a, Stack(Options{Name: drillStack, HTTPPort: drillHTTP, HTTPSPort: drillHTTPS,
			MapServerEnv: map[string]string{"DRILL": "1"}}), swarmx.ApplyOptions{})
		ok, failed, last := l.stop()
		report(t, "sigint", "exit %d \"interrupted\"; status in between: mapserver %s; plan: %s; next apply converged in %s with %d engine call(s)",
			kargo.ExitInterrupted, health, act.Note, since(phase), res.Mutations)
		report(t, "rolling-update", "%d GetMap through the gateway during the MapServer update, %d failed%s", ok+failed, failed, last)
		if failed > 0 {
			t.Errorf("%d of %d requests failed during the rolling update (last: %s)", failed, ok+failed, last)
		}
	})

	if long {
		t.Run("rolling-update", func(t *testing.T) {
			l := startLoad(t, 6*time.Minute)
			phase := time.Now()
			enginetest.Apply(t, a, Stack(Options{Name: drillStack, HTTPPort: drillHTTP, HTTPSPort: drillHTTPS,
				MapServerEnv: map[string]string{"DRILL": "2"}}), swarmx.ApplyOptions{})
			ok, failed, last := l.stop()
			report(t, "rolling-update", "%d GetMap through the gateway during a plain update (%s), %d failed%s", ok+failed, since(phase), failed, last)
			if failed > 0 {
				t.Errorf("%d of %d requests failed", failed, ok+failed)
			}
		})
	}
	current := Options{Name: drillStack, HTTPPort: drillHTTP, HTTPSPort: drillHTTPS, MapServerEnv: map[string]string{"DRILL": "1"}}
	if long {
		current.MapServerEnv["DRILL"] = "2"
	}

	t.Run("kill-mapserver", func(t *testing.T) {
		rounds := 1
		if long {
			rounds = 3
		}
		for i := 0; i < rounds; i++ {
			enginetest.Apply(t, a, Stack(current), swarmx.ApplyOptions{}) // converged first
			ids := containerIDs(t, cli, drillStack+"_mapserver")
			if len(ids) != 2 {
				t.Fatalf("mapserver containers: %v", ids)
			}
			l := startLoad(t, 2*time.Minute)
			time.Sleep(time.Second)
			killed := time.Now()
			enginetest.Docker(t, "kill", ids[0])
			back := waitReplaced(t, cli, drillStack+"_mapserver", ids[0], 2, 90*time.Second)
			time.Sleep(2 * time.Second)
			ok, failed, last := l.stop()
			report(t, "kill-mapserver", "2/2 running again %s after docker kill; gateway answered %d of %d GetMap meanwhile%s",
				back.Sub(killed).Round(100*time.Millisecond), ok, ok+failed, last)
			if ok == 0 {
				t.Errorf("the gateway answered nothing while one MapServer task was down")
			}
		}
	})

	t.Run("kill-postgis", func(t *testing.T) {
		enginetest.Apply(t, a, Stack(current), swarmx.ApplyOptions{})
		ids := containerIDs(t, cli, drillStack+"_db")
		if len(ids) != 1 {
			t.Fatalf("db containers: %v", ids)
		}
		killed := time.Now()
		enginetest.Docker(t, "kill", ids[0])
		back := waitReplaced(t, cli, drillStack+"_db", ids[0], 1, 3*time.Minute)
		waitHitsAt(t, c, drillBase, want, 3*time.Minute)
		answered := time.Now()
		waitReplacedN(t, cli, drillStack+"_mapserver", 2, 3*time.Minute)
		report(t, "kill-postgis", "PostGIS running again %s after docker kill; WFS counts the same %d cities after %s; MapServer 2/2 after %s",
			back.Sub(killed).Round(100*time.Millisecond), want, answered.Sub(killed).Round(100*time.Millisecond), since(killed))
	})

	t.Run("failed-update", func(t *testing.T) {
		enginetest.Apply(t, a, Stack(current), swarmx.ApplyOptions{})
		l := startLoad(t, 8*time.Minute)
		phase := time.Now()
		env := []string{"KARGO_DRILL_MAPSERVER_HEALTH=exit 1", "KARGO_DRILL_MAPSERVER_ENV=DRILL=" + current.MapServerEnv["DRILL"]}
		cmd, stderr := drillCLI(t, env, "apply")
		out := drainLines(t, stderr)
		err := cmd.Wait()
		ok, failed, last := l.stop()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != kargo.ExitFailure {
			t.Fatalf("apply of a never-healthy update: %v, want exit %d", err, kargo.ExitFailure)
		}
		msg := lastLine(out, "kargo: stack ")
		if !strings.Contains(msg, `service "mapserver"`) || !strings.Contains(msg, "rolled back") {
			t.Errorf("the error does not name the service and the rollback: %s", msg)
		}
		report(t, "failed-update", "apply exited %d after %s: %s; %d GetMap meanwhile, %d failed%s",
			ee.ExitCode(), since(phase), msg, ok+failed, failed, last)
		if failed > 0 {
			t.Errorf("%d of %d requests failed while the bad update was tried and rolled back", failed, ok+failed)
		}
		p, err := a.Plan(context.Background(), Stack(current))
		must(t, err)
		if len(p.Changes()) != 0 {
			t.Errorf("the previous version does not run after the rollback: %s", p)
		}
	})

	if long {
		t.Run("password-rotation", func(t *testing.T) {
			for i, pw := range []string{"rotated-one-" + fmt.Sprint(time.Now().Unix()), "rotated-two-" + fmt.Sprint(time.Now().Unix())} {
				o := current
				o.DBPassword = pw
				phase := time.Now()
				enginetest.Apply(t, a, Stack(o), swarmx.ApplyOptions{})
				waitHitsAt(t, c, drillBase, want, 2*time.Minute)
				report(t, "password-rotation", "rotation %d: PostGIS and MapServer rolled and WFS counts the same %d cities after %s", i+1, want, since(phase))
			}
			// Back to a generated password, for the next drills.
			enginetest.Apply(t, a, Stack(current), swarmx.ApplyOptions{})
		})
	}

	t.Run("stack-rm-then-apply", func(t *testing.T) {
		phase := time.Now()
		dockerStackRm(t, cli)
		removed := since(phase)
		phase = time.Now()
		enginetest.Apply(t, a, Stack(current), swarmx.ApplyOptions{})
		waitHitsAt(t, c, drillBase, want, 2*time.Minute)
		report(t, "stack-rm", "docker stack rm (generated password gone) in %s, then apply: WFS counts the same %d cities after %s",
			removed, want, since(phase))
	})

	t.Run("compose-deploy", func(t *testing.T) {
		dockerStackRm(t, cli)
		d, err := swarmx.Render(Stack(current), swarmx.Source{})
		must(t, err)
		file, err := swarmx.WriteCompose(d, t.TempDir())
		must(t, err)
		phase := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "stack", "deploy", "--detach=false", "--resolve-image", "never",
			"-c", file, drillStack).CombinedOutput()
		if err != nil {
			t.Fatalf("docker stack deploy: %v\n%s", err, tail(string(out), 3000))
		}
		deployed := since(phase)
		t.Logf("docker stack deploy:\n%s", tail(string(out), 3000))
		enginetest.Get(t, drillBase+"/wms?SERVICE=WMS&REQUEST=GetCapabilities", 2*time.Minute)
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		for _, tc := range []struct {
			svc    ogc.Service
			path   string
			layers []string
		}{
			{ogc.WMS, "/wms", []string{"elevation", "zones", "roads", "cities"}},
			{ogc.WFS, "/wfs", []string{"zones", "roads", "cities"}},
			{ogc.WCS, "/wcs", []string{"elevation"}},
			{ogc.WMTS, "/wmts", qstack.TiledLayers},
		} {
			if err := retryCheck(cctx, c, tc.svc, drillBase+tc.path, tc.layers); err != nil {
				t.Errorf("%s through the gateway of the compose deployment: %v", tc.svc, err)
			}
		}
		waitHitsAt(t, c, drillBase, want, 2*time.Minute)
		report(t, "compose", "docker stack deploy --detach=false of the rendered compose converged in %s; WMS, WFS, WCS, WMTS answer through the gateway, WFS counts the same %d cities",
			deployed, want)
	})
}

func report(t *testing.T, drill, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("drill %s: "+format, append([]any{drill}, args...)...)
	t.Log(line)
	fmt.Println(line)
}

func since(t0 time.Time) time.Duration { return time.Since(t0).Round(100 * time.Millisecond) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// load sends GetMap requests through the drills gateway, one at a time with a short pause,
// until stopped or for at most max (a bounded loop), and counts the answers.
type load struct {
	ok, failed atomic.Int64
	last       atomic.Value
	quit, done chan struct{}
}

func startLoad(t *testing.T, max time.Duration) *load {
	t.Helper()
	l := &load{quit: make(chan struct{}), done: make(chan struct{})}
	u := ogc.GetMapURL(drillBase+"/wms", ogc.MapRequest{Layers: []string{"roads", "cities"}, CRS: "EPSG:4326",
		BBox: [4]float64{41, -5, 52, 10}, Width: 256, Height: 256})
	hc := &http.Client{Timeout: 15 * time.Second}
	go func() {
		defer close(l.done)
		deadline := time.Now().Add(max)
		for i := 0; i < 100000 && time.Now().Before(deadline); i++ {
			select {
			case <-l.quit:
				return
			default:
			}
			resp, err := hc.Get(u)
			if err == nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/png") {
					err = fmt.Errorf("status %d %s: %.120s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
			}
			if err != nil {
				l.failed.Add(1)
				l.last.Store(err.Error())
			} else {
				l.ok.Add(1)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return l
}

// stop ends the load and returns the answered and failed counts and the last error, if any,
// as a suffix for a report line.
func (l *load) stop() (ok, failed int64, last string) {
	close(l.quit)
	<-l.done
	if v, _ := l.last.Load().(string); v != "" {
		last = " (last error: " + v + ")"
	}
	return l.ok.Load(), l.failed.Load(), last
}

// drillCLI starts the drills stack's CLI in its own process with args and extra environment,
// and returns its stderr lines.
func drillCLI(t *testing.T, env []string, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), "KARGO_DRILL_CLI="+strings.Join(args, " ")), env...)
	pipe, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines
}

// waitLine logs lines until one matches (true) or the stream ends or timeout passes.
func waitLine(t *testing.T, lines <-chan string, match func(string) bool, timeout time.Duration) bool {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case s, ok := <-lines:
			if !ok {
				return false
			}
			t.Log(s)
			if match(s) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// drainLines logs the remaining lines and returns them.
func drainLines(t *testing.T, lines <-chan string) string {
	t.Helper()
	var b strings.Builder
	for s := range lines {
		t.Log(s)
		b.WriteString(s + "\n")
	}
	return b.String()
}

func lastLine(out, prefix string) string {
	last := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			last = l
		}
	}
	return last
}

// waitReplaced waits until n tasks of the service run and none is the killed container, and
// returns when.
func waitReplaced(t *testing.T, cli *client.Client, service, killed string, n int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ids := containerIDs(t, cli, service)
		if len(ids) == n && !contains(ids, killed) {
			return time.Now()
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not %d running tasks (without %.12s) within %s", service, n, killed, timeout)
	return time.Time{}
}

func waitReplacedN(t *testing.T, cli *client.Client, service string, n int, timeout time.Duration) {
	t.Helper()
	waitReplaced(t, cli, service, "", n, timeout)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func drillPSQL(t *testing.T, cli *client.Client, sql string) {
	t.Helper()
	ids := containerIDs(t, cli, drillStack+"_db")
	if len(ids) != 1 {
		t.Fatalf("db containers: %v", ids)
	}
	enginetest.Docker(t, "exec", ids[0], "psql", "-v", "ON_ERROR_STOP=1", "-U", "gis", "-d", "gis", "-c", sql)
}

// waitHitsAt waits (bounded) until the WFS at base counts want cities.
func waitHitsAt(t *testing.T, c *ogc.Client, base string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var n int
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		n, err = c.GetFeatureHits(ctx, base+"/wfs", "cities")
		cancel()
		if err == nil && n == want {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("WFS cities at %s: %d (err %v), want %d", base, n, err, want)
}

func retryCheck(ctx context.Context, c *ogc.Client, s ogc.Service, base string, layers []string) error {
	for {
		err := c.Check(ctx, s, base, layers)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

// dockerStackRm removes the drills stack with the docker CLI (which also removes its
// generated password secret) and waits until its containers and networks are gone.
func dockerStackRm(t *testing.T, cli *client.Client) {
	t.Helper()
	enginetest.Docker(t, "stack", "rm", drillStack)
	f := client.Filters{}.Add("label", "com.docker.stack.namespace="+drillStack)
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cs, err1 := cli.ContainerList(ctx, client.ContainerListOptions{Filters: f})
		ns, err2 := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		ss, err3 := cli.SecretList(ctx, client.SecretListOptions{Filters: f})
		cancel()
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		if len(cs.Items) == 0 && len(ns.Items) == 0 && len(ss.Items) == 0 {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("stack %s not gone 3 minutes after docker stack rm", drillStack)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

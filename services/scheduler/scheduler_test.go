package scheduler_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/internal/schedrun"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
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

func TestNewRendersASchedulerBehindASocketProxy(t *testing.T) {
	st := scheduler.Ensure(stack.New("s", loader(), &stack.Service{Name: "web", Image: "nginx"}))
	if err := st.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	d := render(t, st)
	svc, ok := d.Service("scheduler")
	if !ok {
		t.Fatal("Ensure added no scheduler to a stack with a scheduled job")
	}
	proxy, ok := d.Service("scheduler-proxy")
	if !ok {
		t.Fatal("Ensure added no socket proxy with the scheduler")
	}
	if svc.Spec.Mode.Replicated == nil || svc.Replicas() != 1 || proxy.Spec.Mode.Replicated == nil || proxy.Replicas() != 1 {
		t.Errorf("modes %+v and %+v, want 1 replica each", svc.Spec.Mode, proxy.Spec.Mode)
	}
	if got := proxy.Spec.TaskTemplate.Placement; got == nil || len(got.Constraints) != 1 || got.Constraints[0] != "node.role==manager" {
		t.Errorf("proxy placement %+v, want node.role==manager (a worker's engine cannot update services)", got)
	}
	if img := svc.Spec.TaskTemplate.ContainerSpec.Image; img != scheduler.ImageRef {
		t.Errorf("image %q, want %q", img, scheduler.ImageRef)
	}
	if img := proxy.Spec.TaskTemplate.ContainerSpec.Image; img != scheduler.ProxyImageRef {
		t.Errorf("proxy image %q, want %q", img, scheduler.ProxyImageRef)
	}
	for _, s := range []swarmx.Service{svc, proxy} {
		if env := s.Env()[schedrun.EnvStack]; env != `{{index .Service.Labels "com.docker.stack.namespace"}}` {
			t.Errorf("%s: %s=%q, want the namespace template", s.Logical, schedrun.EnvStack, env)
		}
		if s.Spec.TaskTemplate.RestartPolicy == nil || s.Spec.TaskTemplate.RestartPolicy.Condition != swarm.RestartPolicyConditionAny {
			t.Errorf("%s: restart %+v, want any (a long-running service)", s.Logical, s.Spec.TaskTemplate.RestartPolicy)
		}
	}
	if h := svc.Env()["DOCKER_HOST"]; h != "tcp://scheduler-proxy:2375" {
		t.Errorf("DOCKER_HOST=%q, want the proxy", h)
	}
	if p := proxy.Env()["KARGO_PROXY_PROFILE"]; p != "scheduler" {
		t.Errorf("proxy profile %q, want scheduler", p)
	}
	if u := svc.Spec.TaskTemplate.ContainerSpec.User; u != "65534:65534" {
		t.Errorf("scheduler user %q, want nobody (65534:65534)", u)
	}
	// Only the proxy gets the Docker socket, read-only, and it is marked as the proxy.
	for _, s := range d.Services {
		n := 0
		for _, m := range s.Spec.TaskTemplate.ContainerSpec.Mounts {
			if strings.Contains(m.Source, "docker.sock") || m.Source == "/" || m.Source == "/var/run" || m.Source == "/run" {
				n++
				if m.Type != mount.TypeBind || m.Target != scheduler.Socket || !m.ReadOnly {
					t.Errorf("%s: socket mount %+v, want a read-only bind on %s", s.Logical, m, scheduler.Socket)
				}
			}
		}
		if want := map[bool]int{true: 1, false: 0}[s.Logical == "scheduler-proxy"]; n != want {
			t.Errorf("%s: %d docker socket mounts, want %d", s.Logical, n, want)
		}
		if n > 0 && (s.Spec.Labels[stack.LabelRole] != scheduler.RoleProxy || s.Spec.Labels[scheduler.LabelProxyProfile] != "scheduler") {
			t.Errorf("%s: labels %v, want the socket proxy's role and profile", s.Logical, s.Spec.Labels)
		}
	}
	// The scheduler and the proxy share one internal, non-attachable network and nothing else.
	net := "s_scheduler-engine"
	for _, s := range []swarmx.Service{svc, proxy} {
		nets := s.Spec.TaskTemplate.Networks
		if len(nets) != 1 || nets[0].Target != net {
			t.Errorf("%s: networks %+v, want only %s", s.Logical, nets, net)
		}
	}
	found := false
	for _, n := range d.Networks {
		if n.Name == net {
			found = true
			if !n.Options.Internal || n.Options.Attachable || n.Options.Driver != "overlay" {
				t.Errorf("network %s: %+v, want an internal, non-attachable overlay", net, n.Options)
			}
		}
	}
	if !found {
		t.Errorf("no network %s rendered", net)
	}
	for _, s := range d.Services {
		for _, n := range s.Spec.TaskTemplate.Networks {
			if n.Target == net && s.Logical != "scheduler" && s.Logical != "scheduler-proxy" {
				t.Errorf("%s joins the proxy's network", s.Logical)
			}
		}
	}
	if l, _ := d.Service("loader"); l.Spec.Labels[stack.LabelSchedule] != "0 */10 * * * *" || l.Spec.Mode.ReplicatedJob == nil {
		t.Errorf("loader: labels %v mode %+v, want a replicated job with the schedule label", l.Spec.Labels, l.Spec.Mode)
	}
	if h := svc.Spec.TaskTemplate.ContainerSpec.Healthcheck; h == nil || h.Test[1] != "/kargo-scheduler" {
		t.Errorf("health %+v, want the scheduler's heartbeat check", h)
	}
	if h := proxy.Spec.TaskTemplate.ContainerSpec.Healthcheck; h == nil || h.Test[1] != "/kargo-socket-proxy" {
		t.Errorf("proxy health %+v, want the proxy's ping", h)
	}
}

func TestEnsure(t *testing.T) {
	st := stack.New("s", &stack.Service{Name: "web", Image: "nginx"})
	if scheduler.Ensure(st); len(st.Services) != 1 {
		t.Errorf("Ensure added a scheduler to a stack without scheduled jobs")
	}
	st = stack.New("s", loader(), scheduler.New(scheduler.Config{Common: builder.Common{Name: "cron"}}))
	if scheduler.Ensure(st); len(st.Services) != 3 || st.Service("cron-proxy") == nil {
		t.Errorf("Ensure added a second scheduler: %d services", len(st.Services))
	}
	if err := st.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
	st = stack.New("s", loader())
	scheduler.Ensure(scheduler.Ensure(st))
	if len(st.Services) != 3 || st.Service("scheduler") == nil || st.Service("scheduler-proxy") == nil {
		t.Errorf("Ensure twice: %d services, want loader + scheduler + its proxy", len(st.Services))
	}
	if err := st.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestRegisterImages(t *testing.T) {
	scheduler.RegisterImages()
	for _, ref := range []string{scheduler.ImageRef, scheduler.ProxyImageRef} {
		if _, ok := images.Lookup(ref); !ok {
			t.Errorf("%s is not registered; known: %v", ref, images.Known())
		}
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
	// FROM scratch has no /usr/share/zoneinfo: CRON_TZ= schedules need the embedded database.
	if !bytes.Contains(bin, []byte("Europe/Paris")) {
		t.Error("kargo-scheduler embeds no time zone database (time/tzdata)")
	}
	if df := string(files["Dockerfile"].Data); !strings.HasPrefix(df, "FROM scratch") {
		t.Errorf("Dockerfile %q, want FROM scratch", df)
	}
	proxy, err := scheduler.ProxyContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pb := proxy["kargo-socket-proxy"].Data; !bytes.HasPrefix(pb, []byte("\x7fELF")) || bytes.Contains(pb, []byte("/lib64/ld-linux")) {
		t.Error("kargo-socket-proxy is not a static ELF binary")
	}
	if df := string(proxy["Dockerfile"].Data); df != "FROM scratch\nCOPY kargo-socket-proxy /kargo-socket-proxy\nENTRYPOINT [\"/kargo-socket-proxy\"]\nCMD [\"serve\"]\n" {
		t.Errorf("proxy Dockerfile %q", df)
	}
	if df := string(files["Dockerfile"].Data); df != "FROM scratch\nCOPY kargo-scheduler /kargo-scheduler\nENTRYPOINT [\"/kargo-scheduler\"]\nCMD [\"run\"]\n" {
		t.Errorf("scheduler Dockerfile %q", df)
	}
	again, err := scheduler.Context(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again["kargo-scheduler"].Data, bin) {
		t.Error("two builds differ: the image would be rebuilt on every apply")
	}
}

func TestMetricsOption(t *testing.T) {
	plain := scheduler.New(scheduler.Config{})
	if _, ok := plain.Service.Env[schedrun.EnvMetrics]; ok || len(plain.Service.Networks) != 1 {
		t.Errorf("without Metrics: env %v networks %v, want no metrics and only the proxy's network", plain.Service.Env, plain.Service.Networks)
	}
	m := scheduler.New(scheduler.Config{Metrics: true})
	if m.Service.Env[schedrun.EnvMetrics] != ":9262" || fmt.Sprint(m.Service.Networks) != "[scheduler-engine default]" {
		t.Errorf("with Metrics: env %v networks %v", m.Service.Env, m.Service.Networks)
	}
	if fmt.Sprint(m.Proxy.Networks) != "[scheduler-engine]" {
		t.Errorf("the proxy joins %v, want only its own network", m.Proxy.Networks)
	}
	n := scheduler.New(scheduler.Config{Metrics: true, MetricsNetworks: []string{"front"}})
	if fmt.Sprint(n.Service.Networks) != "[scheduler-engine front]" {
		t.Errorf("with MetricsNetworks: networks %v", n.Service.Networks)
	}
}

package socketproxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalisio/kargo/internal/schedrun"
	"github.com/kalisio/kargo/internal/socketproxy"
	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// engine is a fake Engine API over HTTP. It ignores filters (so the proxy's own filtering of
// answers shows), records every request it gets and answers any path it does not know with
// 200 "{}", so a call the proxy lets through by mistake succeeds and the test sees it.
type engine struct {
	mu       sync.Mutex
	services []swarm.Service
	tasks    []swarm.Task
	networks []network.Summary
	seen     []string // "METHOD path?query"
	updates  []swarm.ServiceSpec
}

func (e *engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen = append(e.seen, r.Method+" "+r.URL.RequestURI())
	w.Header().Set("Api-Version", "1.41")
	w.Header().Set("Content-Type", "application/json")
	path := r.URL.Path
	if strings.HasPrefix(path, "/v1.") {
		path = path[strings.Index(path[1:], "/")+1:]
	}
	send := func(v any) { json.NewEncoder(w).Encode(v) }
	find := func(id string) *swarm.Service {
		for i := range e.services {
			if s := &e.services[i]; s.ID == id || s.Spec.Name == id {
				return s
			}
		}
		return nil
	}
	switch {
	case path == "/_ping":
		w.Header().Set("Content-Type", "text/plain")
		if r.Method == http.MethodGet {
			io.WriteString(w, "OK")
		}
	case path == "/version":
		send(map[string]string{"ApiVersion": "1.41", "Version": "20.10.24"})
	case path == "/services" && r.Method == http.MethodGet:
		send(e.services)
	case strings.HasPrefix(path, "/services/") && strings.HasSuffix(path, "/update") && r.Method == http.MethodPost:
		s := find(strings.TrimSuffix(strings.TrimPrefix(path, "/services/"), "/update"))
		if s == nil {
			w.WriteHeader(http.StatusNotFound)
			send(map[string]string{"message": "no such service"})
			return
		}
		var spec swarm.ServiceSpec
		if err := json.NewDecoder(r.Body).Decode(&spec); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		e.updates = append(e.updates, spec)
		s.Spec = spec
		s.Version.Index++
		send(swarm.ServiceUpdateResponse{})
	case strings.HasPrefix(path, "/services/") && r.Method == http.MethodGet:
		s := find(strings.TrimPrefix(path, "/services/"))
		if s == nil {
			w.WriteHeader(http.StatusNotFound)
			send(map[string]string{"message": "no such service"})
			return
		}
		send(s)
	case path == "/tasks":
		send(e.tasks)
	case path == "/networks":
		send(e.networks)
	case path == "/nodes" && r.Method == http.MethodGet:
		send([]swarm.Node{{ID: "node1", Description: swarm.NodeDescription{Hostname: "kargo-n1"}}})
	default:
		io.WriteString(w, "{}")
	}
}

func (e *engine) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

func (e *engine) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen = nil
}

func service(id, stack, name, schedule string, job bool) swarm.Service {
	labels := map[string]string{"com.docker.stack.namespace": stack}
	if schedule != "" {
		labels["io.kargo.schedule"] = schedule
	}
	s := swarm.Service{ID: id, Meta: swarm.Meta{Version: swarm.Version{Index: 10}},
		Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: stack + "_" + name, Labels: labels},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "debian:bookworm-slim", Command: []string{"true"}}}}}
	if job {
		one := uint64(1)
		s.Spec.Mode.ReplicatedJob = &swarm.ReplicatedJob{TotalCompletions: &one}
		s.JobStatus = &swarm.JobStatus{}
	} else {
		s.Spec.Mode.Replicated = &swarm.ReplicatedService{}
	}
	return s
}

// setup starts the fake engine (stack "s" with a scheduled job and a web service, stack
// "other" with a scheduled job) and the proxy in front of it.
func setup(t *testing.T, profile string) (*engine, *httptest.Server, *bytes.Buffer) {
	t.Helper()
	e := &engine{
		services: []swarm.Service{
			service("sjob0000000000000000000001", "s", "job", "* * * * * *", true),
			service("sweb0000000000000000000002", "s", "web", "", false),
			service("ojob0000000000000000000003", "other", "job", "* * * * * *", true),
			// A stack whose name starts like "s": a prefix match must not take it.
			service("ssjb0000000000000000000004", "s2", "job", "* * * * * *", true),
		},
		tasks: []swarm.Task{
			{ID: "t1", ServiceID: "sjob0000000000000000000001", Status: swarm.TaskStatus{State: swarm.TaskStateComplete}},
			{ID: "t2", ServiceID: "ojob0000000000000000000003", Status: swarm.TaskStatus{State: swarm.TaskStateRunning}},
			{ID: "t3", ServiceID: "sweb0000000000000000000002", Status: swarm.TaskStatus{State: swarm.TaskStateRunning}},
		},
		networks: []network.Summary{
			{Network: network.Network{ID: "n1", Name: "s_default", Labels: map[string]string{"com.docker.stack.namespace": "s"}}},
			{Network: network.Network{ID: "n2", Name: "other_default", Labels: map[string]string{"com.docker.stack.namespace": "other"}}},
		},
	}
	es := httptest.NewServer(e)
	t.Cleanup(es.Close)
	var log bytes.Buffer
	p := &socketproxy.Proxy{Engine: es.Client(), EngineURL: es.URL, Stack: "s", Profile: socketproxy.Profiles[profile], Log: &log}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	return e, ps, &log
}

func dockerClient(t *testing.T, ps *httptest.Server) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost("tcp://" + ps.Listener.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// raw sends a request exactly as written (no client cleans its path) and returns the answer.
func raw(t *testing.T, ps *httptest.Server, req string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", ps.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(target string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
}

func post(target, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		target, len(body), body)
}

// TestSchedulerRunsThroughTheProxy drives the real scheduler Runner and Docker client through
// the proxy: the calls it makes pass, and it sees only its stack.
func TestSchedulerRunsThroughTheProxy(t *testing.T) {
	e, ps, log := setup(t, socketproxy.ProfileScheduler)
	c := dockerClient(t, ps)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	r := &schedrun.Runner{Client: c, Stack: "s", Log: &out, Now: func() time.Time { return now }}
	if err := r.Sync(ctx); err != nil {
		t.Fatalf("sync through the proxy: %v\nproxy log: %s", err, log)
	}
	if st := r.Stats(); len(st) != 1 || st[0].Service != "s_job" {
		t.Fatalf("jobs seen %+v, want s_job only", st)
	}
	now = now.Add(2 * time.Second)
	r.TickDue(ctx)
	if len(e.updates) != 1 {
		t.Fatalf("%d updates through the proxy, want 1\nscheduler: %s\nproxy: %s", len(e.updates), &out, log)
	}
	if u := e.updates[0]; u.Labels[stack.LabelRunRuns] != "1" || u.TaskTemplate.ForceUpdate != 1 {
		t.Errorf("update labels %v force %d, want a run started", u.Labels, u.TaskTemplate.ForceUpdate)
	}
	// A second run, from the updated spec (labels already there).
	now = now.Add(2 * time.Second)
	r.TickDue(ctx)
	if len(e.updates) != 2 || e.updates[1].Labels[stack.LabelRunRuns] != "2" {
		t.Fatalf("second run: %d updates\nscheduler: %s\nproxy: %s", len(e.updates), &out, log)
	}
	for _, req := range e.requests() {
		if !strings.Contains(req, "/services") && !strings.Contains(req, "/tasks") && !strings.Contains(req, "/_ping") {
			t.Errorf("the engine got %s", req)
		}
	}
	if log.Len() > 0 {
		t.Errorf("the proxy refused calls of the scheduler:\n%s", log)
	}

	// What the client sees of lists is the stack's only, whatever the filters say.
	list, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: client.Filters{}.Add("label", "com.docker.stack.namespace=other")})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Items {
		if s.Spec.Labels["com.docker.stack.namespace"] != "s" {
			t.Errorf("service list through the proxy shows %s", s.Spec.Name)
		}
	}
	if len(list.Items) != 2 {
		t.Errorf("service list: %d services, want the 2 of stack s", len(list.Items))
	}
	tasks, err := c.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", "s_job")})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks.Items) != 1 || tasks.Items[0].ID != "t1" {
		t.Errorf("tasks of s_job: %+v, want t1 only", tasks.Items)
	}
	insp, err := c.ServiceInspect(ctx, "s_web", client.ServiceInspectOptions{InsertDefaults: true})
	if err != nil || insp.Service.ID != "sweb0000000000000000000002" {
		t.Errorf("inspect s_web: %v %+v", err, insp.Service.ID)
	}
}

// TestForwardedCallsAreConfinedToTheStack checks what the engine receives: the filters the
// proxy forces and the canonical form of the calls.
func TestForwardedCallsAreConfinedToTheStack(t *testing.T) {
	e, ps, _ := setup(t, socketproxy.ProfileScheduler)
	cases := []struct {
		req  string
		want string // the request the engine must get last
	}{
		{get(`/v1.41/services`), `GET /v1.41/services?filters={"label":{"com.docker.stack.namespace=s":true}}`},
		{get(`/services?filters={"label":["com.docker.stack.namespace=other"]}`),
			`GET /services?filters={"label":{"com.docker.stack.namespace=other":true,"com.docker.stack.namespace=s":true}}`},
		{get(`/v1.41/services?filters={"label":{"com.docker.stack.namespace=other":true},"label":{"x":true}}`),
			`GET /v1.41/services?filters={"label":{"com.docker.stack.namespace=s":true,"x":true}}`},
		{get(`/v1.41/tasks`), `GET /v1.41/tasks?filters={"service":{"sjob0000000000000000000001":true,"sweb0000000000000000000002":true}}`},
		{get(`/v1.41/tasks?filters={"service":{"s_job":true}}`), `GET /v1.41/tasks?filters={"service":{"sjob0000000000000000000001":true}}`},
		{get(`/v1.41/services/s_job`), `GET /v1.41/services/sjob0000000000000000000001`},
	}
	for _, tc := range cases {
		e.reset()
		status, body := raw(t, ps, tc.req)
		if status != http.StatusOK {
			t.Errorf("%q: %d %s, want 200", tc.req, status, body)
			continue
		}
		seen := e.requests()
		got, _ := url.QueryUnescape(seen[len(seen)-1])
		if got != tc.want {
			t.Errorf("%q: the engine got %s, want %s", strings.SplitN(tc.req, "\r\n", 2)[0], got, tc.want)
		}
		if strings.Contains(body, "other_") || strings.Contains(body, "s2_") || strings.Contains(body, `"t2"`) {
			t.Errorf("%q: the answer shows another stack: %s", tc.req, body)
		}
	}
}

// runUpdate is the body of an update that starts a run of s_job, with change applied to the spec.
func runUpdate(t *testing.T, change func(*swarm.ServiceSpec)) string {
	t.Helper()
	s := service("sjob0000000000000000000001", "s", "job", "* * * * * *", true)
	spec := s.Spec
	spec.Labels = map[string]string{}
	for k, v := range s.Spec.Labels {
		spec.Labels[k] = v
	}
	spec.Labels[stack.LabelRunRuns] = "1"
	spec.Labels[stack.LabelRunResult] = "running"
	spec.TaskTemplate.ForceUpdate++
	if change != nil {
		change(&spec)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRefused(t *testing.T) {
	e, ps, log := setup(t, socketproxy.ProfileScheduler)
	ok := runUpdate(t, nil)
	chunked := func(method, target, body string) string {
		return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n",
			method, target, len(body), body)
	}
	cases := map[string]string{
		"container create":                 post("/v1.41/containers/create", `{"Image":"debian:bookworm-slim","HostConfig":{"Binds":["/:/host"],"Privileged":true}}`),
		"container list":                   get("/v1.41/containers/json"),
		"exec create":                      post("/v1.41/containers/abc/exec", `{"Cmd":["sh"]}`),
		"exec start":                       post("/v1.41/exec/abc/start", `{}`),
		"secrets":                          get("/v1.41/secrets"),
		"secret inspect":                   get("/secrets/abc"),
		"configs":                          get("/v1.41/configs"),
		"info":                             get("/v1.41/info"),
		"nodes":                            get("/v1.41/nodes"),
		"swarm":                            get("/v1.41/swarm"),
		"service create":                   post("/v1.41/services/create", `{}`),
		"service delete":                   "DELETE /v1.41/services/sjob0000000000000000000001 HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
		"service logs":                     get("/v1.41/services/sjob0000000000000000000001/logs?stdout=1"),
		"update via GET":                   get("/v1.41/services/sjob0000000000000000000001/update?version=10"),
		"ping by POST":                     post("/_ping", ""),
		"ping with a query":                get("/_ping?x=1"),
		"plugins":                          get("/v1.41/plugins"),
		"build":                            post("/v1.41/build", ""),
		"inspect of another stack":         get("/v1.41/services/ojob0000000000000000000003"),
		"inspect by name of another stack": get("/v1.41/services/other_job"),
		"inspect of a prefix stack":        get("/v1.41/services/s2_job"),
		"inspect of no service":            get("/v1.41/services/nosuch"),
		"update of another stack":          post("/v1.41/services/ojob0000000000000000000003/update?version=10", runUpdate(t, nil)),
		"update of a non-job":              post("/v1.41/services/s_web/update?version=10", runUpdate(t, nil)),
		"update changing the image": post("/v1.41/services/s_job/update?version=10", runUpdate(t, func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Image = "evil:latest"
		})),
		"update mounting the socket": post("/v1.41/services/s_job/update?version=10", runUpdate(t, func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: "/var/run/docker.sock", Target: "/s"}}
		})),
		"update changing the command": post("/v1.41/services/s_job/update?version=10", runUpdate(t, func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Command = []string{"sh", "-c", "id"}
		})),
		"update moving it to another stack": post("/v1.41/services/s_job/update?version=10", runUpdate(t, func(s *swarm.ServiceSpec) {
			s.Labels["com.docker.stack.namespace"] = "other"
		})),
		"update of another label": post("/v1.41/services/s_job/update?version=10", runUpdate(t, func(s *swarm.ServiceSpec) {
			s.Labels["io.kargo.schedule"] = "0 0 * * * *"
		})),
		"update to a service mode": post("/v1.41/services/s_job/update?version=10", runUpdate(t, func(s *swarm.ServiceSpec) {
			s.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
		})),
		"update with an unknown field":        post("/v1.41/services/s_job/update?version=10", strings.Replace(ok, `{`, `{"Privileged":true,`, 1)),
		"update with two JSON values":         post("/v1.41/services/s_job/update?version=10", ok+ok),
		"update without a version":            post("/v1.41/services/s_job/update", ok),
		"update with a bad version":           post("/v1.41/services/s_job/update?version=10x", ok),
		"update with a rollback":              post("/v1.41/services/s_job/update?version=10&rollback=previous", ok),
		"update with registry auth from":      post("/v1.41/services/s_job/update?version=10&registryAuthFrom=previous-spec", ok),
		"update with the version twice":       post("/v1.41/services/s_job/update?version=10&version=11", ok),
		"update too large":                    post("/v1.41/services/s_job/update?version=10", strings.Replace(ok, `"Name":"s_job"`, `"Name":"`+strings.Repeat("x", socketproxy.MaxBody)+`"`, 1)),
		"tasks of another stack":              get(`/v1.41/tasks?filters={"service":{"ojob0000000000000000000003":true}}`),
		"tasks of own and another stack":      get(`/v1.41/tasks?filters={"service":{"s_job":true,"other_job":true}}`),
		"tasks of another stack, legacy form": get(`/v1.41/tasks?filters={"service":["other_job"]}`),
		"tasks with a filter not allowed":     get(`/v1.41/tasks?filters={"runtime":{"container":true}}`),
		"services with a bad filter":          get(`/v1.41/services?filters={"label":"x"}`),
		"services with filters twice":         get(`/v1.41/services?filters={}&filters={"label":{"com.docker.stack.namespace=other":true}}`),
		"services with a semicolon":           get(`/v1.41/services?filters={};filters=x`),
		"services with an unknown parameter":  get(`/v1.41/services?all=1`),
		"traversal":                           get("/v1.41/services/../secrets"),
		"traversal in the middle":             get("/v1.41/services/s_job/../../secrets"),
		"dot segment":                         get("/v1.41/./secrets"),
		"encoded slash":                       get("/v1.41/services/s_job%2F..%2F..%2Fsecrets"),
		"encoded traversal":                   get("/v1.41/services/%2e%2e/secrets"),
		"encoded letter":                      get("/v1.41/%73ecrets"),
		"backslash":                           get(`/v1.41/services\..\secrets`),
		"double slash":                        get("/v1.41//services"),
		"trailing slash":                      get("/v1.41/services/"),
		"version twice":                       get("/v1.41/v1.41/secrets"),
		"bad version prefix":                  get("/v1.41.2/services"),
		"upper-case version":                  get("/V1.41/services"),
		"upper-case path":                     get("/v1.41/SERVICES"),
		"absolute URI":                        get("http://docker/v1.41/secrets"),
		"absolute URI of an allowed path":     get("http://docker/v1.41/services"),
		"chunked body on a GET":               chunked("GET", "/v1.41/services", "x"),
		"body on a GET":                       "GET /v1.41/tasks HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
		"chunked update changing the image": chunked("POST", "/v1.41/services/s_job/update?version=10", runUpdate(t, func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Image = "evil:latest"
		})),
		"chunked container create": chunked("POST", "/v1.41/containers/create", `{"Image":"x"}`),
	}
	for name, req := range cases {
		e.reset()
		status, body := raw(t, ps, req)
		if status != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", name, status, body)
		}
		if status == http.StatusForbidden && !strings.Contains(body, "refused") {
			t.Errorf("%s: 403 without an explanation: %s", name, body)
		}
		// A refusal repeats the call, never what the engine knows.
		for _, m := range []string{`"Spec"`, "ojob0", `"t2"`, "other_job", "s2_job"} {
			if strings.Contains(body, m) && !strings.Contains(req, m) {
				t.Errorf("%s: the refusal shows another stack (%s): %s", name, m, body)
			}
		}
		// At most the proxy's own look-ups reached the engine: inspections and the stack's list.
		for _, r := range e.requests() {
			r, _ = url.QueryUnescape(r)
			if !strings.HasPrefix(r, "GET /v1.41/services/") && r != `GET /v1.41/services?filters={"label":{"com.docker.stack.namespace=s":true}}` {
				t.Errorf("%s: the engine got %s", name, r)
			}
		}
	}
	if n := strings.Count(log.String(), "\n"); n != len(cases) {
		t.Errorf("the proxy logged %d refusals for %d refused calls:\n%s", n, len(cases), log)
	}
	if len(e.updates) != 0 {
		t.Errorf("%d updates reached the engine", len(e.updates))
	}

	// A chunked update that only starts a run passes: the proxy reads the whole body.
	status, body := raw(t, ps, chunked("POST", "/v1.41/services/s_job/update?version=10", ok))
	if status != http.StatusOK || len(e.updates) != 1 {
		t.Errorf("chunked run update: %d %s, %d updates", status, body, len(e.updates))
	}
}

// TestRefusalIsAClearClientError checks what the scheduler's log would show.
func TestRefusalIsAClearClientError(t *testing.T) {
	_, ps, _ := setup(t, socketproxy.ProfileScheduler)
	c := dockerClient(t, ps)
	_, err := c.SecretList(context.Background(), client.SecretListOptions{})
	if err == nil || !strings.Contains(err.Error(), "GET") || !strings.Contains(err.Error(), "/secrets") ||
		!strings.Contains(err.Error(), "not an allowed call") {
		t.Errorf("secret list through the proxy: %v, want a refusal naming the call", err)
	}
}

func TestDiscoveryProfileIsReadOnly(t *testing.T) {
	e, ps, _ := setup(t, socketproxy.ProfileDiscovery)
	for _, target := range []string{"/v1.41/services", "/v1.41/tasks", "/v1.41/networks", "/v1.41/nodes", "/_ping", "/v1.41/version"} {
		status, body := raw(t, ps, get(target))
		if status != http.StatusOK {
			t.Errorf("%s: %d %s, want 200", target, status, body)
		}
		if strings.Contains(body, "other_") || strings.Contains(body, `"t2"`) || strings.Contains(body, `"n2"`) {
			t.Errorf("%s: the answer shows another stack: %s", target, body)
		}
	}
	status, body := raw(t, ps, get("/v1.41/tasks"))
	var tasks []swarm.Task
	if err := json.Unmarshal([]byte(body), &tasks); err != nil || len(tasks) != 2 {
		t.Errorf("tasks: %d %s, want t1 and t3", status, body)
	}
	for _, req := range []string{
		post("/v1.41/services/s_job/update?version=10", runUpdate(t, nil)),
		get("/v1.41/services/s_job"),
		get("/v1.41/secrets"),
		post("/v1.41/containers/create", "{}"),
		"DELETE /v1.41/nodes/x HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
		post("/v1.41/nodes/x/update?version=1", "{}"),
	} {
		if status, body := raw(t, ps, req); status != http.StatusForbidden {
			t.Errorf("%q: %d %s, want 403", strings.SplitN(req, "\r\n", 2)[0], status, body)
		}
	}
	if len(e.updates) != 0 {
		t.Errorf("%d updates through the read-only profile", len(e.updates))
	}
}

func TestProfilesAreComplete(t *testing.T) {
	for name, p := range socketproxy.Profiles {
		if p.Name != name {
			t.Errorf("profile %q is named %q", name, p.Name)
		}
		for _, r := range p.Rules {
			if r.Method != "GET" && r.Method != "HEAD" && r.Method != "POST" {
				t.Errorf("%s: %s %s: method not allowed in a profile", name, r.Method, r.Path)
			}
			if r.Scope.String() == "" {
				t.Errorf("%s: %s %s: unknown scope", name, r.Method, r.Path)
			}
			if r.Method == "POST" && r.Scope != socketproxy.StackJobRun {
				t.Errorf("%s: POST %s is not confined to runs of the stack's jobs", name, r.Path)
			}
		}
	}
	for _, r := range socketproxy.Profiles[socketproxy.ProfileDiscovery].Rules {
		if r.Method == "POST" {
			t.Errorf("discovery profile allows POST %s", r.Path)
		}
	}
}

// TestDiscoveryProfileServesPrometheus makes the calls of Prometheus 2.42's Docker Swarm
// discovery, role tasks (Debian bookworm's prometheus): the version negotiation, the task
// list with the job's filters, then the services, the nodes and the networks, each unfiltered.
// They pass, confined to the stack; every other call, including the container inspection a
// later Prometheus adds, is refused.
func TestDiscoveryProfileServesPrometheus(t *testing.T) {
	e, ps, log := setup(t, socketproxy.ProfileDiscovery)
	c := dockerClient(t, ps)
	ctx := context.Background()
	tasks, err := c.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("desired-state", "running")})
	if err != nil {
		t.Fatalf("task list: %v", err)
	}
	if len(tasks.Items) != 2 {
		t.Errorf("tasks: %+v, want t1 and t3 (the stack's)", tasks.Items)
	}
	services, err := c.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil || len(services.Items) != 2 {
		t.Errorf("service list: %v, %d services, want the 2 of stack s", err, len(services.Items))
	}
	nodes, err := c.NodeList(ctx, client.NodeListOptions{})
	if err != nil || len(nodes.Items) != 1 {
		t.Errorf("node list: %v %+v", err, nodes.Items)
	}
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil || len(nets.Items) != 1 || nets.Items[0].Name != "s_default" {
		t.Errorf("network list: %v %+v, want s_default only", err, nets.Items)
	}
	if log.Len() > 0 {
		t.Errorf("the proxy refused calls of Prometheus' discovery:\n%s", log)
	}
	var sawTasks bool
	for _, req := range e.requests() {
		if strings.HasPrefix(req, "GET /v1.41/tasks?") {
			sawTasks = true
			q, _ := url.ParseQuery(req[strings.Index(req, "?")+1:])
			f := q.Get("filters")
			if !strings.Contains(f, `"desired-state":{"running":true}`) || !strings.Contains(f, "sweb0000000000000000000002") || strings.Contains(f, "ojob") {
				t.Errorf("task list forwarded with filters %s, want the job's and the stack's services", f)
			}
		}
	}
	if !sawTasks {
		t.Errorf("the engine got no task list: %v", e.requests())
	}

	e.reset()
	for _, req := range []string{
		get("/v1.41/containers/abc/json"), // later Prometheus versions inspect the task containers
		get("/v1.41/containers/json"),
		get("/v1.41/nodes/node1"),
		get("/v1.41/networks/n1"),
		get("/v1.41/networks/n2"),
		get("/v1.41/tasks/t2"),
		get("/v1.41/services/s_web/logs"),
		get("/v1.41/tasks/t1/logs"),
		get("/v1.41/info"),
		get("/v1.41/events"),
		get("/v1.41/swarm"),
		get("/v1.41/configs"),
		get("/v1.41/secrets"),
		get("/v1.41/plugins"),
		get("/v1.41/volumes"),
		get("/v1.41/system/df"),
		post("/v1.41/services/create", "{}"),
		post("/v1.41/networks/create", "{}"),
		post("/v1.41/containers/abc/exec", "{}"),
		"DELETE /v1.41/services/s_web HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
		// Filters: no other stack's service, no key the rule does not list.
		get(`/v1.41/tasks?filters={"service":{"other_job":true}}`),
		get(`/v1.41/tasks?filters={"service":{"ojob0000000000000000000003":true}}`),
		get(`/v1.41/tasks?filters={"up-to-date":{"true":true}}`),
		get(`/v1.41/nodes?filters={"dangling":{"true":true}}`),
		get(`/v1.41/networks?filters={"dangling":{"true":true}}`),
		get("/v1.41/services?insertDefaults=true"),
	} {
		if status, body := raw(t, ps, req); status != http.StatusForbidden {
			t.Errorf("%q: %d %s, want 403", strings.SplitN(req, "\r\n", 2)[0], status, body)
		}
	}
	for _, req := range e.requests() {
		if !strings.HasPrefix(req, "GET /v1.41/services/") {
			t.Errorf("a refused call reached the engine: %s", req)
		}
	}
}

package socketproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/swarm"
)

// MaxBody is the largest request body the proxy reads (a service spec).
const MaxBody = 1 << 20

// maxAnswer is the largest engine answer the proxy filters (a list of services or tasks).
const maxAnswer = 64 << 20

var (
	versionSegment = regexp.MustCompile(`^v[0-9]{1,2}\.[0-9]{1,3}$`)
	idSegment      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$`)
	digits         = regexp.MustCompile(`^[0-9]{1,20}$`)
)

// Proxy is the filtering proxy, an http.Handler.
type Proxy struct {
	// Engine sends requests to the real Engine API (see UnixEngine).
	Engine *http.Client
	// EngineURL is the base URL of the engine for Engine, e.g. "http://docker".
	EngineURL string
	// Stack is the namespace (com.docker.stack.namespace) the calls are confined to.
	Stack string
	// Profile holds the allowed calls.
	Profile Profile
	// Log receives one line per refused call (nil: discarded).
	Log io.Writer
}

// UnixEngine returns an HTTP client that talks to the engine socket at path, and the base URL
// to use with it.
func UnixEngine(path string) (*http.Client, string) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableCompression:    true,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	return &http.Client{Transport: tr}, "http://docker"
}

// refusal is a call the proxy answers itself with a status and a message.
type refusal struct {
	status int
	msg    string
}

func (r *refusal) Error() string { return r.msg }

func forbid(format string, args ...any) error {
	return &refusal{status: http.StatusForbidden, msg: fmt.Sprintf(format, args...)}
}

// call is a request that matched a rule, in canonical form.
type call struct {
	rule    Rule
	version string // "/v1.41" or ""
	id      string // the {id} segment, if any
	query   url.Values
	filters map[string]map[string]bool
	body    []byte
}

// ServeHTTP checks the call against the profile and forwards it, or answers 403.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := p.match(r)
	if err == nil {
		err = p.serve(w, r.Context(), c)
	}
	if err == nil {
		return
	}
	var ref *refusal
	if !errors.As(err, &ref) {
		ref = &refusal{status: http.StatusBadGateway, msg: err.Error()}
	}
	path := r.RequestURI
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	msg := fmt.Sprintf("kargo-socket-proxy (profile %s, stack %s): %s %.200q refused: %s", p.Profile.Name, p.Stack, r.Method, path, ref.msg)
	if p.Log != nil {
		fmt.Fprintln(p.Log, msg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ref.status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]string{"message": msg})
}

// match finds the rule of a request and puts the request in canonical form: a path with no
// encoded character, no empty, "." or ".." segment, an optional /v1.xx prefix; known query
// parameters, each once; a body only where the rule takes one.
func (p *Proxy) match(r *http.Request) (*call, error) {
	raw := r.RequestURI
	if !strings.HasPrefix(raw, "/") {
		return nil, forbid("the request target must be a path")
	}
	rawPath, rawQuery, _ := strings.Cut(raw, "?")
	if strings.ContainsAny(rawPath, "%\\") {
		return nil, forbid("encoded characters and backslashes are not allowed in the path")
	}
	segs := strings.Split(rawPath[1:], "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return nil, forbid("empty, '.' and '..' path segments are not allowed")
		}
	}
	c := &call{}
	if versionSegment.MatchString(segs[0]) {
		c.version = "/" + segs[0]
		segs = segs[1:]
	}
	found := false
	for _, rule := range p.Profile.Rules {
		if id, ok := matchPath(rule.Path, segs); ok && rule.Method == r.Method {
			c.rule, c.id, found = rule, id, true
			break
		}
	}
	if !found {
		return nil, forbid("not an allowed call; allowed: %s", strings.Join(p.Profile.Describe(), "; "))
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, forbid("bad query: %v", err)
	}
	c.query = url.Values{}
	for k, vs := range q {
		if !contains(c.rule.Query, k) {
			return nil, forbid("query parameter %q is not allowed here (allowed: %s)", k, strings.Join(c.rule.Query, ", "))
		}
		if len(vs) != 1 {
			return nil, forbid("query parameter %q given %d times", k, len(vs))
		}
		c.query.Set(k, vs[0])
	}
	if v, ok := c.query["version"]; ok && !digits.MatchString(v[0]) {
		return nil, forbid("version %q is not a number", v[0])
	}
	if f, ok := c.query["filters"]; ok {
		c.filters, err = parseFilters(f[0])
		if err != nil {
			return nil, forbid("filters: %v", err)
		}
		for k := range c.filters {
			if !contains(c.rule.Filters, k) {
				return nil, forbid("filter %q is not allowed here (allowed: %s)", k, strings.Join(c.rule.Filters, ", "))
			}
		}
	}
	if c.filters == nil {
		c.filters = map[string]map[string]bool{}
	}
	if !c.rule.Body {
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			return nil, forbid("this call takes no body")
		}
		return c, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, forbid("reading the body: %v", err)
	}
	if len(body) > MaxBody {
		return nil, forbid("body larger than %d bytes", MaxBody)
	}
	c.body = body
	return c, nil
}

// matchPath matches path segments against a rule's pattern and returns the {id} segment.
func matchPath(pattern string, segs []string) (string, bool) {
	pat := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	if len(pat) != len(segs) {
		return "", false
	}
	id := ""
	for i, p := range pat {
		switch {
		case p == "{id}":
			if !idSegment.MatchString(segs[i]) {
				return "", false
			}
			id = segs[i]
		case p != segs[i]:
			return "", false
		}
	}
	return id, true
}

// parseFilters decodes the engine's filters parameter: {"key": {"value": true}} or the legacy
// {"key": ["value"]}. As in the engine, a value counts whatever its boolean.
func parseFilters(s string) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	if s == "" {
		return out, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, err
	}
	for k, v := range raw {
		set := map[string]bool{}
		var m map[string]bool
		var l []string
		switch {
		case json.Unmarshal(v, &m) == nil:
			for x := range m {
				set[x] = true
			}
		case json.Unmarshal(v, &l) == nil:
			for _, x := range l {
				set[x] = true
			}
		default:
			return nil, fmt.Errorf("values of %q are neither an object of booleans nor a list of strings", k)
		}
		out[k] = set
	}
	return out, nil
}

func encodeFilters(f map[string]map[string]bool) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// serve applies the rule's scope and forwards the call.
func (p *Proxy) serve(w http.ResponseWriter, ctx context.Context, c *call) error {
	ns := stack.LabelNamespace + "=" + p.Stack
	path := c.rule.Path
	var keep func(json.RawMessage) bool
	switch c.rule.Scope {
	case Open:
	case StackServices, StackNetworks:
		addFilter(c.filters, "label", ns)
		c.query.Set("filters", encodeFilters(c.filters))
		keep = func(item json.RawMessage) bool {
			var v struct {
				Labels map[string]string
				Spec   struct{ Labels map[string]string }
			}
			if json.Unmarshal(item, &v) != nil {
				return false
			}
			if c.rule.Scope == StackNetworks {
				return v.Labels[stack.LabelNamespace] == p.Stack
			}
			return v.Spec.Labels[stack.LabelNamespace] == p.Stack
		}
	case StackService, StackJobRun:
		svc, err := p.stackService(ctx, c.version, c.id)
		if err != nil {
			return err
		}
		path = strings.Replace(path, "{id}", svc.ID, 1)
		if c.rule.Scope == StackJobRun {
			body, err := p.checkRun(svc, c)
			if err != nil {
				return err
			}
			c.body = body
		}
	case StackTasks:
		ids := map[string]bool{}
		if given := c.filters["service"]; len(given) > 0 {
			for name := range given {
				svc, err := p.stackService(ctx, c.version, name)
				if err != nil {
					return err
				}
				ids[svc.ID] = true
			}
		} else {
			all, err := p.stackServiceIDs(ctx, c.version)
			if err != nil {
				return err
			}
			if len(all) == 0 {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte("[]\n"))
				return nil
			}
			for _, id := range all {
				ids[id] = true
			}
		}
		c.filters["service"] = ids
		c.query.Set("filters", encodeFilters(c.filters))
		keep = func(item json.RawMessage) bool {
			var v struct{ ServiceID string }
			return json.Unmarshal(item, &v) == nil && ids[v.ServiceID]
		}
	default:
		return forbid("rule %s %s has an unknown scope", c.rule.Method, c.rule.Path)
	}
	return p.forward(w, ctx, c.rule.Method, c.version+path, c.query, c.body, keep)
}

func addFilter(f map[string]map[string]bool, key, value string) {
	if f[key] == nil {
		f[key] = map[string]bool{}
	}
	f[key][value] = true
}

// engineGet makes a GET call of the proxy's own to the engine and decodes its JSON answer.
func (p *Proxy) engineGet(ctx context.Context, path string, query url.Values, out any) (int, error) {
	u := p.EngineURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.Engine.Do(req)
	if err != nil {
		return 0, fmt.Errorf("engine: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("engine: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("engine: GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return resp.StatusCode, json.Unmarshal(b, out)
}

// stackService inspects a service by ID or name and refuses it unless it belongs to the stack.
// A missing service is refused the same way, so the answer tells nothing of other stacks.
func (p *Proxy) stackService(ctx context.Context, version, id string) (*swarm.Service, error) {
	if !idSegment.MatchString(id) {
		return nil, forbid("%q is not a service ID or name", id)
	}
	var svc swarm.Service
	status, err := p.engineGet(ctx, version+"/services/"+id, nil, &svc)
	switch {
	case status == http.StatusNotFound:
		return nil, forbid("service %q is not a service of stack %q", id, p.Stack)
	case err != nil:
		return nil, err
	case svc.Spec.Labels[stack.LabelNamespace] != p.Stack:
		return nil, forbid("service %q is not a service of stack %q", id, p.Stack)
	}
	return &svc, nil
}

// stackServiceIDs lists the IDs of the stack's services.
func (p *Proxy) stackServiceIDs(ctx context.Context, version string) ([]string, error) {
	var list []swarm.Service
	q := url.Values{"filters": {encodeFilters(map[string]map[string]bool{"label": {stack.LabelNamespace + "=" + p.Stack: true}})}}
	if _, err := p.engineGet(ctx, version+"/services", q, &list); err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range list {
		if s.Spec.Labels[stack.LabelNamespace] == p.Stack {
			ids = append(ids, s.ID)
		}
	}
	return ids, nil
}

// checkRun checks that an update of svc only starts a run of a scheduled job: the new spec is
// the current one but for the run labels and ForceUpdate. It returns the body to forward,
// encoded from the decoded spec.
func (p *Proxy) checkRun(svc *swarm.Service, c *call) ([]byte, error) {
	if svc.Spec.Labels[stack.LabelSchedule] == "" || (svc.Spec.Mode.ReplicatedJob == nil && svc.Spec.Mode.GlobalJob == nil) {
		return nil, forbid("service %s is not a scheduled job (label %s, job mode): only runs of scheduled jobs may be started", svc.Spec.Name, stack.LabelSchedule)
	}
	if c.query.Get("version") == "" {
		return nil, forbid("an update needs the service version")
	}
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.DisallowUnknownFields()
	var spec swarm.ServiceSpec
	if err := dec.Decode(&spec); err != nil {
		return nil, forbid("the update body is not a service spec: %v", err)
	}
	if dec.More() {
		return nil, forbid("the update body holds more than one JSON value")
	}
	want, err := runView(svc.Spec)
	if err != nil {
		return nil, err
	}
	got, err := runView(spec)
	if err != nil {
		return nil, err
	}
	if diff := diffFields(want, got); len(diff) > 0 {
		return nil, forbid("an update may only change the run labels (%s*) and ForceUpdate of a scheduled job; this one changes %s",
			stack.LabelRunPrefix, strings.Join(diff, ", "))
	}
	return json.Marshal(spec)
}

// runView is a spec without what starting a run changes, as a JSON object.
func runView(spec swarm.ServiceSpec) (map[string]json.RawMessage, error) {
	labels := map[string]string{}
	for k, v := range spec.Labels {
		if !strings.HasPrefix(k, stack.LabelRunPrefix) {
			labels[k] = v
		}
	}
	spec.Labels = labels
	spec.TaskTemplate.ForceUpdate = 0
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		cp := *cs
		cp.Image = imageWithTag(cp.Image)
		spec.TaskTemplate.ContainerSpec = &cp
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	return m, json.Unmarshal(b, &m)
}

// imageWithTag is the image reference as the Docker client sends it in an update (a missing
// tag becomes "latest"), so an unchanged image compares equal.
func imageWithTag(image string) string {
	if named, err := reference.ParseNormalizedNamed(image); err == nil {
		return reference.FamiliarString(reference.TagNameOnly(named))
	}
	return image
}

// diffFields lists the top-level fields (and labels, TaskTemplate fields) that differ.
func diffFields(a, b map[string]json.RawMessage) []string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		if bytes.Equal(a[k], b[k]) {
			continue
		}
		if k == "TaskTemplate" || k == "Labels" {
			var sa, sb map[string]json.RawMessage
			if json.Unmarshal(a[k], &sa) == nil && json.Unmarshal(b[k], &sb) == nil {
				for _, d := range diffFields(sa, sb) {
					out = append(out, k+"."+d)
				}
				continue
			}
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// forward sends the canonical call to the engine and copies the answer; keep, when set,
// filters the items of a JSON list answer.
func (p *Proxy) forward(w http.ResponseWriter, ctx context.Context, method, path string, query url.Values, body []byte, keep func(json.RawMessage) bool) error {
	u := p.EngineURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.Engine.Do(req)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	defer resp.Body.Close()
	var filtered []byte
	if keep != nil && resp.StatusCode == http.StatusOK {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		if len(b) > maxAnswer {
			return fmt.Errorf("engine: answer larger than %d bytes", maxAnswer)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return fmt.Errorf("engine: answer is not a JSON list: %w", err)
		}
		kept := []json.RawMessage{}
		for _, it := range items {
			if keep(it) {
				kept = append(kept, it)
			}
		}
		filtered, err = json.Marshal(kept)
		if err != nil {
			return err
		}
		filtered = append(filtered, '\n')
	}
	h := w.Header()
	for k, vs := range resp.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Trailer", "Content-Length":
			continue
		}
		h[k] = vs
	}
	if filtered != nil {
		h.Set("Content-Length", fmt.Sprint(len(filtered)))
		w.WriteHeader(resp.StatusCode)
		w.Write(filtered) // once the status is sent, a failed write only ends the connection
		return nil
	}
	if resp.ContentLength >= 0 {
		h.Set("Content-Length", fmt.Sprint(resp.ContentLength))
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, maxAnswer))
	return nil
}

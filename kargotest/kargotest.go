// Package kargotest makes unit-testing a stack one line: it validates and renders a stack
// without any Docker Engine and gives accessors on the rendered services, failing the test
// with a clear message when the stack is invalid or a service does not exist.
//
//	func TestQuickstart(t *testing.T) {
//		ms := kargotest.Render(t, quickstart()).Service("mapserver")
//		if ms.Replicas() != 2 {
//			t.Errorf("mapserver replicas = %d, want 2", ms.Replicas())
//		}
//	}
//
// Secrets and configs given by environment variable or file are rendered with placeholder
// contents (see WithSource), so tests do not depend on the deploy program's environment.
package kargotest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
)

// TB is the part of testing.TB the helpers use; *testing.T and *testing.B satisfy it.
type TB interface {
	// Helper marks the calling function as a test helper.
	Helper()
	// Fatalf reports a fatal failure and stops the test.
	Fatalf(format string, args ...any)
}

// Option tunes Render.
type Option func(*options)

type options struct {
	src swarmx.Source
}

// WithSource renders with the given environment and files instead of placeholders, e.g. to
// check that a missing secret file is reported.
func WithSource(src swarmx.Source) Option {
	return func(o *options) { o.src = src }
}

// PlaceholderSource resolves every environment variable to "kargotest-env:<NAME>" and every
// file to "kargotest-file:<path>". It is Render's default source.
var PlaceholderSource = swarmx.Source{
	LookupEnv: func(k string) (string, bool) { return "kargotest-env:" + k, true },
	ReadFile:  func(p string) ([]byte, error) { return []byte("kargotest-file:" + p), nil },
}

// Rendered is a stack rendered without an engine.
type Rendered struct {
	t TB
	// Stack is the stack as given.
	Stack *stack.Stack
	// Desired is what Apply would ask of the Swarm.
	Desired *swarmx.Desired
}

// Render validates and renders the stack, failing t with every problem when it is invalid or
// cannot be rendered.
func Render(t TB, st *stack.Stack, opts ...Option) *Rendered {
	t.Helper()
	o := options{src: PlaceholderSource}
	for _, f := range opts {
		f(&o)
	}
	if st == nil {
		t.Fatalf("kargotest: Render: the stack is nil")
		return nil
	}
	d, err := swarmx.Render(st, o.src)
	if err != nil {
		t.Fatalf("kargotest: Render: %v", err)
		return nil
	}
	return &Rendered{t: t, Stack: st, Desired: d}
}

// Service returns the rendered service with the given name (its name in the stack, not the
// Swarm name), failing t when the stack has no such service.
func (r *Rendered) Service(name string) *Service {
	r.t.Helper()
	s, ok := r.Desired.Service(name)
	if !ok {
		r.t.Fatalf("kargotest: stack %q has no service %q (services: %s)", r.Desired.Stack, name, strings.Join(r.Services(), ", "))
		return nil
	}
	return &Service{t: r.t, Desired: s, secrets: r.Desired.Secrets}
}

// Services returns the names of the stack's services, in order.
func (r *Rendered) Services() []string {
	var out []string
	for _, s := range r.Desired.Services {
		out = append(out, s.Logical)
	}
	return out
}

// Networks returns the Swarm names of the stack's networks, sorted.
func (r *Rendered) Networks() []string {
	var out []string
	for _, n := range r.Desired.Networks {
		out = append(out, n.Name)
	}
	return out
}

// Volumes returns the Swarm names of the stack's volumes, sorted.
func (r *Rendered) Volumes() []string {
	var out []string
	for _, v := range r.Desired.Volumes {
		out = append(out, v.Name)
	}
	return out
}

// Secrets returns the names (within the stack) of the stack's secrets, sorted.
func (r *Rendered) Secrets() []string {
	var out []string
	for _, s := range r.Desired.Secrets {
		out = append(out, s.Logical)
	}
	return out
}

// Service is a rendered service with accessors for what tests check most.
type Service struct {
	t TB
	// Desired is the full rendered service, for anything the accessors do not cover.
	Desired swarmx.Service
	secrets []swarmx.Secret
}

// Spec returns the Swarm service spec.
func (s *Service) Spec() swarm.ServiceSpec { return s.Desired.Spec }

// Name returns the Swarm name of the service (<stack>_<name>).
func (s *Service) Name() string { return s.Desired.Name }

// Image returns the image reference.
func (s *Service) Image() string { return s.container().Image }

// Mode returns replicated, global, replicated-job or global-job.
func (s *Service) Mode() stack.Mode {
	switch m := s.Desired.Spec.Mode; {
	case m.Global != nil:
		return stack.Global
	case m.ReplicatedJob != nil:
		return stack.ReplicatedJob
	case m.GlobalJob != nil:
		return stack.GlobalJob
	}
	return stack.Replicated
}

// Replicas returns the number of replicas (completions for a replicated job); 0 for global modes.
func (s *Service) Replicas() uint64 { return s.Desired.Replicas() }

// Env returns the value of an environment variable, failing t when it is not set.
func (s *Service) Env(key string) string {
	s.t.Helper()
	v, ok := s.Desired.Env()[key]
	if !ok {
		s.t.Fatalf("kargotest: service %q has no environment variable %s (has %s)", s.Desired.Logical, key, strings.Join(s.envKeys(), ", "))
	}
	return v
}

// HasEnv reports whether an environment variable is set.
func (s *Service) HasEnv(key string) bool {
	_, ok := s.Desired.Env()[key]
	return ok
}

// EnvMap returns the whole environment.
func (s *Service) EnvMap() map[string]string { return s.Desired.Env() }

func (s *Service) envKeys() []string {
	var keys []string
	for k := range s.Desired.Env() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Port is a published port.
type Port struct {
	// Target is the container port.
	Target uint32
	// Published is the node port.
	Published uint32
	// Protocol is tcp, udp or sctp.
	Protocol string
	// Mode is host or ingress.
	Mode string
}

// Ports returns the published ports.
func (s *Service) Ports() []Port {
	var out []Port
	if ep := s.Desired.Spec.EndpointSpec; ep != nil {
		for _, p := range ep.Ports {
			out = append(out, Port{Target: p.TargetPort, Published: p.PublishedPort, Protocol: string(p.Protocol), Mode: string(p.PublishMode)})
		}
	}
	return out
}

// Mount is a mount of the service's containers.
type Mount struct {
	// Type is volume, bind or tmpfs.
	Type string
	// Source is the Swarm volume name (<stack>_<volume>), the host path, or empty for tmpfs.
	Source string
	// Target is the absolute path in the container.
	Target string
	// ReadOnly is true for a read-only mount.
	ReadOnly bool
}

// Mounts returns the mounts.
func (s *Service) Mounts() []Mount {
	var out []Mount
	for _, m := range s.container().Mounts {
		out = append(out, Mount{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	return out
}

// Mount returns the mount at the target path, failing t when there is none.
func (s *Service) Mount(target string) Mount {
	s.t.Helper()
	for _, m := range s.Mounts() {
		if m.Target == target {
			return m
		}
	}
	s.t.Fatalf("kargotest: service %q mounts nothing at %s", s.Desired.Logical, target)
	return Mount{}
}

// SecretTargets returns the absolute paths where secrets are mounted, keyed by secret name
// within the stack (e.g. "pgpass" -> "/run/secrets/pgpass").
func (s *Service) SecretTargets() map[string]string {
	out := map[string]string{}
	names := map[string]string{}
	for _, sec := range s.secrets {
		names[sec.Name] = sec.Logical
	}
	for _, r := range s.container().Secrets {
		target := stack.SecretPath(r.File.Name)
		name := names[r.SecretName]
		if name == "" {
			name = r.SecretName
		}
		out[name] = target
	}
	return out
}

// ConfigTargets returns the paths where configs are mounted, in order.
func (s *Service) ConfigTargets() []string {
	var out []string
	for _, r := range s.container().Configs {
		out = append(out, r.File.Name)
	}
	return out
}

// Constraints returns the placement constraints.
func (s *Service) Constraints() []string {
	if p := s.Desired.Spec.TaskTemplate.Placement; p != nil {
		return p.Constraints
	}
	return nil
}

// Health returns the container health check, or nil when the image's is kept.
func (s *Service) Health() *container.HealthConfig { return s.container().Healthcheck }

// Labels returns the service labels the stack set (without Kargo's bookkeeping labels: the
// spec hash and the last-applied spec).
func (s *Service) Labels() map[string]string {
	out := map[string]string{}
	for k, v := range s.Desired.Spec.Labels {
		if k == stack.LabelHash || k == stack.LabelLastApplied {
			continue
		}
		out[k] = v
	}
	return out
}

// Networks returns the Swarm names of the networks the service joins.
func (s *Service) Networks() []string {
	var out []string
	for _, n := range s.Desired.Spec.TaskTemplate.Networks {
		out = append(out, n.Target)
	}
	return out
}

// MemoryLimit returns the memory limit in bytes (0 = none).
func (s *Service) MemoryLimit() int64 {
	if r := s.Desired.Spec.TaskTemplate.Resources; r != nil && r.Limits != nil {
		return r.Limits.MemoryBytes
	}
	return 0
}

// CPULimit returns the CPU limit in cores (0 = none).
func (s *Service) CPULimit() float64 {
	if r := s.Desired.Spec.TaskTemplate.Resources; r != nil && r.Limits != nil {
		return float64(r.Limits.NanoCPUs) / 1e9
	}
	return 0
}

// StopGracePeriod returns the stop grace period (0 = Swarm's default).
func (s *Service) StopGracePeriod() time.Duration {
	if g := s.container().StopGracePeriod; g != nil {
		return *g
	}
	return 0
}

func (s *Service) container() *swarm.ContainerSpec {
	if cs := s.Desired.Spec.TaskTemplate.ContainerSpec; cs != nil {
		return cs
	}
	return &swarm.ContainerSpec{}
}

// Invalid asserts that the stack fails validation with a problem at path (e.g.
// "services[mapserver].replicas") and returns that problem; it fails t when the stack is
// valid or has no problem there, listing the problems it has.
func Invalid(t TB, st *stack.Stack, path string) stack.Problem {
	t.Helper()
	err := st.Validate()
	if err == nil {
		t.Fatalf("kargotest: stack is valid, want a problem at %s", path)
		return stack.Problem{}
	}
	var ve *stack.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("kargotest: Validate returned %T (%v), want a *stack.ValidationError", err, err)
		return stack.Problem{}
	}
	for _, p := range ve.Problems {
		if p.Path == path {
			return p
		}
	}
	t.Fatalf("kargotest: no problem at %s; the problems are:\n%s", path, problemList(ve.Problems))
	return stack.Problem{}
}

// Valid asserts that the stack passes validation, failing t with every problem otherwise.
func Valid(t TB, st *stack.Stack) {
	t.Helper()
	if err := st.Validate(); err != nil {
		t.Fatalf("kargotest: %v", err)
	}
}

func problemList(ps []stack.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	return b.String()
}

// Package fakeengine is an in-memory, recording stand-in for the Docker Engine API client
// used by Kargo's tests. It implements swarmx.Client and swarmx.LogsClient (so kargo.Engine)
// without any daemon: services, networks, secrets, configs, volumes and tasks live in maps,
// every call is recorded with whether it mutates, and tasks report running (or complete, for
// jobs) as soon as a service is created or updated, so Apply's wait converges at once.
//
// Behaviour a test wants to provoke is set on the Engine before use: Rollback makes the next
// update of a service be rolled back by "Swarm", Fail makes a method return an error.
package fakeengine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kalisio/kargo/internal/deepcopy"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
)

// Call is one recorded method call.
type Call struct {
	// Method is the client method name, e.g. "ServiceCreate".
	Method string
	// Name is the object the call is about (its name when known, else its ID); empty for lists.
	Name string
	// Mutating is true for calls that change the engine's state (create, update, remove).
	Mutating bool
}

// String returns the method and, when known, the object's name, e.g. "ServiceCreate s_web".
func (c Call) String() string {
	if c.Name == "" {
		return c.Method
	}
	return c.Method + " " + c.Name
}

// Engine is the fake engine. The zero value is not ready: use New.
type Engine struct {
	mu sync.Mutex
	// Nodes is the number of nodes global services run on (default 1).
	Nodes int
	// Rollback maps a Swarm service name to a task error: the next ServiceUpdate of that
	// service fails its new tasks and Swarm rolls it back (UpdateStatus rollback_completed).
	Rollback map[string]string
	// Stall names Swarm services whose next ServiceUpdate never converges: the new tasks stay
	// starting and the update stays in progress (Swarm does not roll that back by itself).
	Stall map[string]bool
	// Fail maps a method name to the error it returns (the call is still recorded).
	Fail map[string]error
	// Logs maps a Swarm service name to what ServiceLogs returns (on stdout).
	Logs map[string]string

	calls    []Call
	seq      int
	services store[*swarm.Service]
	tasks    map[string][]swarm.Task // by service ID
	networks store[network.Summary]
	secrets  store[swarm.Secret]
	configs  store[swarm.Config]
	volumes  store[volume.Volume] // by name, as the engine keys them
}

// New returns an empty engine: a one-node Swarm with nothing on it.
func New() *Engine {
	return &Engine{
		Nodes:    1,
		Rollback: map[string]string{},
		Stall:    map[string]bool{},
		Fail:     map[string]error{},
		Logs:     map[string]string{},
		services: newStore("service", "service %s already exists",
			func(s *swarm.Service) string { return s.Spec.Name }, func(s *swarm.Service) map[string]string { return s.Spec.Labels }),
		tasks: map[string][]swarm.Task{},
		networks: newStore("network", "network with name %s already exists",
			func(n network.Summary) string { return n.Name }, func(n network.Summary) map[string]string { return n.Labels }),
		secrets: newStore("secret", "secret %s already exists",
			func(s swarm.Secret) string { return s.Spec.Name }, func(s swarm.Secret) map[string]string { return s.Spec.Labels }),
		configs: newStore("config", "config %s already exists",
			func(c swarm.Config) string { return c.Spec.Name }, func(c swarm.Config) map[string]string { return c.Spec.Labels }),
		volumes: newStore("volume", "volume %s already exists",
			func(v volume.Volume) string { return v.Name }, func(v volume.Volume) map[string]string { return v.Labels }),
	}
}

// store holds the objects of one kind by ID and finds them by ID or name.
type store[T any] struct {
	kind   string
	exists string // the engine's error when a name is taken, a format with the name
	items  map[string]T
	name   func(T) string
	labels func(T) map[string]string
}

func newStore[T any](kind, exists string, name func(T) string, labels func(T) map[string]string) store[T] {
	return store[T]{kind: kind, exists: exists, items: map[string]T{}, name: name, labels: labels}
}

// find returns the ID and the object with the given ID or name.
func (s *store[T]) find(idOrName string) (string, T, bool) {
	if v, ok := s.items[idOrName]; ok {
		return idOrName, v, true
	}
	for id, v := range s.items {
		if s.name(v) == idOrName {
			return id, v, true
		}
	}
	var zero T
	return "", zero, false
}

// free returns the engine's error when an object is named name already.
func (s *store[T]) free(name string) error {
	for _, v := range s.items {
		if s.name(v) == name {
			return fmt.Errorf(s.exists, name)
		}
	}
	return nil
}

// list returns view of the objects matching the label, name and id filters, sorted by name.
func (s *store[T]) list(f client.Filters, view func(T) T) []T {
	var out []T
	for id, v := range s.items {
		if matchLabels(f, s.labels(v)) && matchName(f, s.name(v), id) {
			out = append(out, view(v))
		}
	}
	sort.Slice(out, func(i, j int) bool { return s.name(out[i]) < s.name(out[j]) })
	return out
}

// names returns the names of the objects, sorted.
func (s *store[T]) names() []string {
	out := []string{}
	for _, v := range s.items {
		out = append(out, s.name(v))
	}
	sort.Strings(out)
	return out
}

// remove is every Remove method: it finds the object by ID or name, records the call under
// its name, and deletes it unless it is missing or inUse names the service using it.
func remove[T any](e *Engine, s *store[T], method, idOrName string, inUse func(id string, v T) string) error {
	id, v, ok := s.find(idOrName)
	name := idOrName
	if ok {
		name = s.name(v)
	}
	if err := e.record(method, name, true); err != nil {
		return err
	}
	if !ok {
		return notFound(s.kind, idOrName)
	}
	if inUse != nil {
		if user := inUse(id, v); user != "" {
			return fmt.Errorf("%s %s is in use by service %s", s.kind, name, user)
		}
	}
	delete(s.items, id)
	return nil
}

func same[T any](v T) T { return v }

// Calls returns every recorded call, in order.
func (e *Engine) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Call(nil), e.calls...)
}

// Mutations returns the recorded calls that changed the engine's state, in order.
func (e *Engine) Mutations() []Call {
	var out []Call
	for _, c := range e.Calls() {
		if c.Mutating {
			out = append(out, c)
		}
	}
	return out
}

// CallsTo returns the recorded calls of one method, in order.
func (e *Engine) CallsTo(method string) []Call {
	var out []Call
	for _, c := range e.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Reset forgets the recorded calls (the engine's objects stay).
func (e *Engine) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = nil
}

// AddNetwork puts a network on the engine without recording a call (e.g. an external network).
func (e *Engine) AddNetwork(name string, labels map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.newID("net")
	n := network.Summary{}
	n.ID, n.Name, n.Driver, n.Scope, n.Labels = id, name, "overlay", "swarm", copyMap(labels)
	e.networks.items[id] = n
}

// AddSecret puts a secret on the engine without recording a call (e.g. an external secret).
func (e *Engine) AddSecret(name string, data []byte, labels map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.newID("sec")
	e.secrets.items[id] = swarm.Secret{ID: id, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: copyMap(labels)}, Data: data}}
}

// AddConfig puts a config on the engine without recording a call (e.g. an external config).
func (e *Engine) AddConfig(name string, data []byte, labels map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.newID("cfg")
	e.configs.items[id] = swarm.Config{ID: id, Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name, Labels: copyMap(labels)}, Data: data}}
}

// StopTask makes one running task of the named service end in state (complete after an
// exit 0, failed...) with the message, and not be replaced: what Swarm does under the
// on-failure restart policy, or while a task is being restarted. It reports whether the
// service had a running task.
func (e *Engine) StopTask(name string, state swarm.TaskState, msg string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.find(name)
	if s == nil {
		return false
	}
	for i, t := range e.tasks[s.ID] {
		if t.Status.State == swarm.TaskStateRunning {
			t.DesiredState = swarm.TaskStateShutdown
			t.Status = swarm.TaskStatus{State: state, Message: msg, Timestamp: time.Now()}
			if state == swarm.TaskStateFailed {
				t.Status.Err = msg
			}
			t.UpdatedAt = time.Now()
			e.tasks[s.ID][i] = t
			return true
		}
	}
	return false
}

// StartTask adds a task of the named service's current spec that Swarm is starting (desired
// running, state starting): a replacement on its way.
func (e *Engine) StartTask(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.find(name)
	if s == nil {
		return
	}
	now := time.Now()
	t := swarm.Task{ID: e.newID("task"), ServiceID: s.ID, Spec: deepcopy.Of(s.Spec).TaskTemplate,
		DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateStarting, Timestamp: now}}
	t.CreatedAt, t.UpdatedAt = now, now
	e.tasks[s.ID] = append(e.tasks[s.ID], t)
}

// RunStarting makes every starting task of the named service run (the replacement became
// healthy).
func (e *Engine) RunStarting(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.find(name)
	if s == nil {
		return
	}
	for i := range e.tasks[s.ID] {
		if e.tasks[s.ID][i].Status.State == swarm.TaskStateStarting {
			e.tasks[s.ID][i].Status.State = swarm.TaskStateRunning
		}
	}
}

// FinishUpdate ends the named service's update in progress (a Stall): its starting tasks run
// and the update completes.
func (e *Engine) FinishUpdate(name string) {
	e.mu.Lock()
	s := e.find(name)
	if s != nil && s.UpdateStatus != nil && s.UpdateStatus.State == swarm.UpdateStateUpdating {
		now := time.Now()
		s.UpdateStatus.State, s.UpdateStatus.CompletedAt, s.UpdateStatus.Message = swarm.UpdateStateCompleted, &now, "update completed"
	}
	e.mu.Unlock()
	e.RunStarting(name)
}

// RollBack ends the named service's update in progress (a Stall) as Swarm does when its new
// tasks fail: they end complete with the message (a task stopped for being unhealthy may exit
// 0) and the service goes back to its previous spec (rollback_completed).
func (e *Engine) RollBack(name, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.find(name)
	if s == nil || s.PreviousSpec == nil {
		return
	}
	now := time.Now()
	var ended []swarm.Task
	for _, t := range e.tasks[s.ID] {
		t.DesiredState = swarm.TaskStateShutdown
		t.Status = swarm.TaskStatus{State: swarm.TaskStateComplete, Message: msg, Timestamp: now}
		t.UpdatedAt = now
		ended = append(ended, t)
	}
	failed := deepcopy.Of(s.Spec)
	s.Spec, s.PreviousSpec = deepcopy.Of(*s.PreviousSpec), &failed
	s.Version.Index++
	s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, StartedAt: &now, CompletedAt: &now,
		Message: "rollback completed"}
	e.runTasks(s)
	e.tasks[s.ID] = append(e.tasks[s.ID], ended...)
}

// PauseUpdate leaves the named service's last update paused with the message, as Swarm does
// when an update (failure action pause) or a rollback fails.
func (e *Engine) PauseUpdate(name, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.find(name); s != nil {
		now := time.Now()
		s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStatePaused, StartedAt: &now, Message: msg}
	}
}

// Services returns the services on the engine, sorted by name.
func (e *Engine) Services() []swarm.Service {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []swarm.Service
	for _, s := range e.services.list(nil, same) {
		out = append(out, deepcopy.Of(*s))
	}
	return out
}

// Service returns the service with the given Swarm name.
func (e *Engine) Service(name string) (swarm.Service, bool) {
	for _, s := range e.Services() {
		if s.Spec.Name == name {
			return s, true
		}
	}
	return swarm.Service{}, false
}

// NetworkNames returns the names of the networks on the engine, sorted.
func (e *Engine) NetworkNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.networks.names()
}

// SecretNames returns the names of the secrets on the engine, sorted.
func (e *Engine) SecretNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.secrets.names()
}

// Secret returns the secret with the given name, with its data.
func (e *Engine) Secret(name string) (swarm.Secret, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, s, ok := e.secrets.find(name)
	return s, ok
}

// ConfigNames returns the names of the configs on the engine, sorted.
func (e *Engine) ConfigNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.configs.names()
}

// VolumeNames returns the names of the volumes on the engine, sorted.
func (e *Engine) VolumeNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.volumes.names()
}

// record logs a call and returns the error configured for its method.
func (e *Engine) record(method, name string, mutating bool) error {
	e.calls = append(e.calls, Call{Method: method, Name: name, Mutating: mutating})
	return e.Fail[method]
}

func (e *Engine) newID(prefix string) string {
	e.seq++
	return fmt.Sprintf("%s%04d", prefix, e.seq)
}

// matchLabels applies "label" filters ("key=value" or "key").
func matchLabels(f client.Filters, labels map[string]string) bool {
	for want := range f["label"] {
		k, v, hasValue := strings.Cut(want, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}

func matchName(f client.Filters, name, id string) bool {
	if len(f["name"]) == 0 && len(f["id"]) == 0 {
		return true
	}
	return f["name"][name] || f["id"][id]
}

// ServiceList lists services matching the label, name and id filters.
func (e *Engine) ServiceList(_ context.Context, o client.ServiceListOptions) (client.ServiceListResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("ServiceList", "", false); err != nil {
		return client.ServiceListResult{}, err
	}
	var out []swarm.Service
	for _, s := range e.services.list(o.Filters, same) {
		c := deepcopy.Of(*s)
		if o.Status {
			c.ServiceStatus = e.status(s)
		}
		out = append(out, c)
	}
	return client.ServiceListResult{Items: out}, nil
}

// find returns the service with the given ID or name, or nil.
func (e *Engine) find(idOrName string) *swarm.Service {
	_, s, _ := e.services.find(idOrName)
	return s
}

func notFound(kind, id string) error {
	return fmt.Errorf("%s %s not found", kind, id)
}

// ServiceInspect returns a service by ID or name.
func (e *Engine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("ServiceInspect", id, false); err != nil {
		return client.ServiceInspectResult{}, err
	}
	s := e.find(id)
	if s == nil {
		return client.ServiceInspectResult{}, notFound("service", id)
	}
	// Like the engine, inspect gives no ServiceStatus (only a list with Status does).
	return client.ServiceInspectResult{Service: deepcopy.Of(*s)}, nil
}

// ServiceCreate creates a service; its tasks run (or complete, for jobs) at once.
func (e *Engine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("ServiceCreate", o.Spec.Name, true); err != nil {
		return client.ServiceCreateResult{}, err
	}
	if err := e.services.free(o.Spec.Name); err != nil {
		return client.ServiceCreateResult{}, err
	}
	if err := e.checkRefs(o.Spec); err != nil {
		return client.ServiceCreateResult{}, err
	}
	now := time.Now()
	s := &swarm.Service{ID: e.newID("svc"), Spec: deepcopy.Of(o.Spec)}
	s.Version.Index = 1
	s.CreatedAt, s.UpdatedAt = now, now
	e.services.items[s.ID] = s
	e.mountVolumes(s.Spec)
	e.runTasks(s)
	return client.ServiceCreateResult{ID: s.ID}, nil
}

// ServiceUpdate replaces a service's spec (the version must match). When Rollback names the
// service, the new tasks fail and the service goes back to its previous spec.
func (e *Engine) ServiceUpdate(_ context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.find(id)
	name := id
	if s != nil {
		name = s.Spec.Name
	}
	if err := e.record("ServiceUpdate", name, true); err != nil {
		return client.ServiceUpdateResult{}, err
	}
	if s == nil {
		return client.ServiceUpdateResult{}, notFound("service", id)
	}
	if o.Version.Index != s.Version.Index {
		return client.ServiceUpdateResult{}, fmt.Errorf("update out of sequence: version %d, service is at %d", o.Version.Index, s.Version.Index)
	}
	if err := e.checkRefs(o.Spec); err != nil {
		return client.ServiceUpdateResult{}, err
	}
	now := time.Now()
	prev := deepcopy.Of(s.Spec)
	s.Version.Index++
	s.UpdatedAt = now
	if o.Rollback == "previous" {
		if s.PreviousSpec == nil {
			return client.ServiceUpdateResult{}, fmt.Errorf("service %s has no previous spec", s.Spec.Name)
		}
		s.Spec, s.PreviousSpec = deepcopy.Of(*s.PreviousSpec), &prev
		s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, StartedAt: &now, CompletedAt: &now,
			Message: "manually requested rollback"}
		e.runTasks(s)
		return client.ServiceUpdateResult{}, nil
	}
	if e.Stall[s.Spec.Name] {
		delete(e.Stall, s.Spec.Name)
		s.PreviousSpec = &prev
		s.Spec = deepcopy.Of(o.Spec)
		s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating, StartedAt: &now, Message: "update in progress"}
		e.runTasks(s)
		for i := range e.tasks[s.ID] {
			e.tasks[s.ID][i].Status.State = swarm.TaskStateStarting
		}
		return client.ServiceUpdateResult{}, nil
	}
	if taskErr, ok := e.Rollback[s.Spec.Name]; ok {
		delete(e.Rollback, s.Spec.Name)
		failed := swarm.Task{ID: e.newID("task"), ServiceID: s.ID, Spec: deepcopy.Of(o.Spec).TaskTemplate,
			DesiredState: swarm.TaskStateShutdown,
			Status:       swarm.TaskStatus{State: swarm.TaskStateFailed, Err: taskErr, Timestamp: now}}
		failed.UpdatedAt = now
		s.PreviousSpec = &prev
		e.runTasks(s)
		e.tasks[s.ID] = append(e.tasks[s.ID], failed)
		s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, StartedAt: &now, CompletedAt: &now,
			Message: "update rolled back due to failure or early termination of task " + failed.ID}
		return client.ServiceUpdateResult{}, nil
	}
	s.PreviousSpec = &prev
	s.Spec = deepcopy.Of(o.Spec)
	s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateCompleted, StartedAt: &now, CompletedAt: &now, Message: "update completed"}
	e.mountVolumes(s.Spec)
	e.runTasks(s)
	return client.ServiceUpdateResult{}, nil
}

// ServiceRemove removes a service and its tasks.
func (e *Engine) ServiceRemove(_ context.Context, id string, _ client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key, _, _ := e.services.find(id)
	if err := remove(e, &e.services, "ServiceRemove", id, nil); err != nil {
		return client.ServiceRemoveResult{}, err
	}
	delete(e.tasks, key)
	return client.ServiceRemoveResult{}, nil
}

// TaskList lists tasks, filtered by "service" (ID or name).
func (e *Engine) TaskList(_ context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("TaskList", "", false); err != nil {
		return client.TaskListResult{}, err
	}
	var out []swarm.Task
	for id, ts := range e.tasks {
		s := e.services.items[id]
		if len(o.Filters["service"]) > 0 && (s == nil || !(o.Filters["service"][id] || o.Filters["service"][s.Spec.Name])) {
			continue
		}
		out = append(out, ts...)
	}
	return client.TaskListResult{Items: out}, nil
}

// runTasks replaces a service's tasks with ones of its current spec: running for services,
// complete for jobs.
func (e *Engine) runTasks(s *swarm.Service) {
	n := uint64(e.Nodes)
	job := false
	switch m := s.Spec.Mode; {
	case m.Replicated != nil && m.Replicated.Replicas != nil:
		n = *m.Replicated.Replicas
	case m.ReplicatedJob != nil:
		job = true
		n = 1
		if m.ReplicatedJob.TotalCompletions != nil {
			n = *m.ReplicatedJob.TotalCompletions
		}
	case m.GlobalJob != nil:
		job = true
	}
	if job {
		s.JobStatus = &swarm.JobStatus{JobIteration: s.Version}
	}
	now := time.Now()
	var ts []swarm.Task
	for i := uint64(0); i < n; i++ {
		t := swarm.Task{ID: e.newID("task"), ServiceID: s.ID, Slot: int(i + 1), Spec: deepcopy.Of(s.Spec).TaskTemplate,
			DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateRunning, Timestamp: now}}
		if job {
			t.DesiredState = swarm.TaskStateComplete
			t.Status.State = swarm.TaskStateComplete
			it := s.Version
			t.JobIteration = &it
		}
		t.CreatedAt, t.UpdatedAt = now, now
		ts = append(ts, t)
	}
	e.tasks[s.ID] = ts
}

func (e *Engine) status(s *swarm.Service) *swarm.ServiceStatus {
	st := &swarm.ServiceStatus{}
	for _, t := range e.tasks[s.ID] {
		if t.DesiredState != swarm.TaskStateShutdown {
			st.DesiredTasks++
		}
		switch t.Status.State {
		case swarm.TaskStateRunning:
			st.RunningTasks++
		case swarm.TaskStateComplete:
			st.CompletedTasks++
		}
	}
	return st
}

// mountVolumes creates the named volumes a spec mounts, as the engine of a node does when a
// task first mounts them.
func (e *Engine) mountVolumes(spec swarm.ServiceSpec) {
	if spec.TaskTemplate.ContainerSpec == nil {
		return
	}
	for _, m := range spec.TaskTemplate.ContainerSpec.Mounts {
		if m.Type != "volume" || m.Source == "" {
			continue
		}
		if _, ok := e.volumes.items[m.Source]; ok {
			continue
		}
		v := volume.Volume{Name: m.Source, Driver: "local"}
		if m.VolumeOptions != nil {
			v.Labels = copyMap(m.VolumeOptions.Labels)
			if m.VolumeOptions.DriverConfig != nil {
				v.Driver = m.VolumeOptions.DriverConfig.Name
			}
		}
		e.volumes.items[m.Source] = v
	}
}

// checkRefs rejects a spec whose secret or config references do not exist, as Swarm does.
func (e *Engine) checkRefs(spec swarm.ServiceSpec) error {
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return errors.New("service spec has no container spec")
	}
	for _, r := range cs.Secrets {
		s, ok := e.secrets.items[r.SecretID]
		if !ok || s.Spec.Name != r.SecretName {
			return fmt.Errorf("secret not found: %s (%s)", r.SecretName, r.SecretID)
		}
	}
	for _, r := range cs.Configs {
		c, ok := e.configs.items[r.ConfigID]
		if !ok || c.Spec.Name != r.ConfigName {
			return fmt.Errorf("config not found: %s (%s)", r.ConfigName, r.ConfigID)
		}
	}
	for _, n := range spec.TaskTemplate.Networks {
		found := false
		for id, have := range e.networks.items {
			if id == n.Target || have.Name == n.Target {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("network %s not found", n.Target)
		}
	}
	return nil
}

// inUse returns the name of a service that references the secret or config ID.
func (e *Engine) inUse(id string) string {
	for _, s := range e.services.items {
		if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
			for _, r := range cs.Secrets {
				if r.SecretID == id {
					return s.Spec.Name
				}
			}
			for _, r := range cs.Configs {
				if r.ConfigID == id {
					return s.Spec.Name
				}
			}
		}
	}
	return ""
}

// NetworkList lists networks matching the label and name filters.
func (e *Engine) NetworkList(_ context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("NetworkList", "", false); err != nil {
		return client.NetworkListResult{}, err
	}
	return client.NetworkListResult{Items: e.networks.list(o.Filters, same)}, nil
}

// NetworkCreate creates a network; names are unique.
func (e *Engine) NetworkCreate(_ context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("NetworkCreate", name, true); err != nil {
		return client.NetworkCreateResult{}, err
	}
	if err := e.networks.free(name); err != nil {
		return client.NetworkCreateResult{}, err
	}
	id := e.newID("net")
	n := network.Summary{}
	n.ID, n.Name, n.Driver, n.Scope, n.Internal, n.Attachable, n.Labels =
		id, name, o.Driver, o.Scope, o.Internal, o.Attachable, copyMap(o.Labels)
	e.networks.items[id] = n
	return client.NetworkCreateResult{ID: id}, nil
}

// NetworkRemove removes a network by ID or name; it fails while a service uses it.
func (e *Engine) NetworkRemove(_ context.Context, id string, _ client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := remove(e, &e.networks, "NetworkRemove", id, func(key string, n network.Summary) string {
		for _, s := range e.services.items {
			for _, a := range s.Spec.TaskTemplate.Networks {
				if a.Target == key || a.Target == n.Name {
					return s.Spec.Name
				}
			}
		}
		return ""
	})
	return client.NetworkRemoveResult{}, err
}

// SecretList lists secrets matching the label and name filters (without their data, as the
// engine does).
func (e *Engine) SecretList(_ context.Context, o client.SecretListOptions) (client.SecretListResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("SecretList", "", false); err != nil {
		return client.SecretListResult{}, err
	}
	withoutData := func(s swarm.Secret) swarm.Secret { s.Spec.Data = nil; return s }
	return client.SecretListResult{Items: e.secrets.list(o.Filters, withoutData)}, nil
}

// SecretCreate creates a secret; names are unique.
func (e *Engine) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("SecretCreate", o.Spec.Name, true); err != nil {
		return client.SecretCreateResult{}, err
	}
	if err := e.secrets.free(o.Spec.Name); err != nil {
		return client.SecretCreateResult{}, err
	}
	id := e.newID("sec")
	spec := o.Spec
	spec.Labels = copyMap(spec.Labels)
	spec.Data = append([]byte(nil), spec.Data...)
	e.secrets.items[id] = swarm.Secret{ID: id, Spec: spec}
	return client.SecretCreateResult{ID: id}, nil
}

// SecretRemove removes a secret by ID or name; it fails while a service uses it.
func (e *Engine) SecretRemove(_ context.Context, id string, _ client.SecretRemoveOptions) (client.SecretRemoveResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := remove(e, &e.secrets, "SecretRemove", id, func(key string, _ swarm.Secret) string { return e.inUse(key) })
	return client.SecretRemoveResult{}, err
}

// ConfigList lists configs matching the label and name filters.
func (e *Engine) ConfigList(_ context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("ConfigList", "", false); err != nil {
		return client.ConfigListResult{}, err
	}
	return client.ConfigListResult{Items: e.configs.list(o.Filters, same)}, nil
}

// ConfigCreate creates a config; names are unique.
func (e *Engine) ConfigCreate(_ context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("ConfigCreate", o.Spec.Name, true); err != nil {
		return client.ConfigCreateResult{}, err
	}
	if err := e.configs.free(o.Spec.Name); err != nil {
		return client.ConfigCreateResult{}, err
	}
	id := e.newID("cfg")
	spec := o.Spec
	spec.Labels = copyMap(spec.Labels)
	spec.Data = append([]byte(nil), spec.Data...)
	e.configs.items[id] = swarm.Config{ID: id, Spec: spec}
	return client.ConfigCreateResult{ID: id}, nil
}

// ConfigRemove removes a config by ID or name; it fails while a service uses it.
func (e *Engine) ConfigRemove(_ context.Context, id string, _ client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := remove(e, &e.configs, "ConfigRemove", id, func(key string, _ swarm.Config) string { return e.inUse(key) })
	return client.ConfigRemoveResult{}, err
}

// VolumeList lists volumes matching the label and name filters.
func (e *Engine) VolumeList(_ context.Context, o client.VolumeListOptions) (client.VolumeListResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("VolumeList", "", false); err != nil {
		return client.VolumeListResult{}, err
	}
	return client.VolumeListResult{Items: e.volumes.list(o.Filters, same)}, nil
}

// VolumeRemove removes a volume by name.
func (e *Engine) VolumeRemove(_ context.Context, name string, _ client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := remove(e, &e.volumes, "VolumeRemove", name, nil)
	return client.VolumeRemoveResult{}, err
}

// ServiceLogs returns Logs[service] as the engine's multiplexed stdout stream.
func (e *Engine) ServiceLogs(_ context.Context, id string, _ client.ServiceLogsOptions) (client.ServiceLogsResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("ServiceLogs", id, false); err != nil {
		return nil, err
	}
	s := e.find(id)
	if s == nil {
		return nil, notFound("service", id)
	}
	var buf bytes.Buffer
	if text := e.Logs[s.Spec.Name]; text != "" {
		hdr := make([]byte, 8)
		hdr[0] = 1 // stdout
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(text)))
		buf.Write(hdr)
		buf.WriteString(text)
	}
	return io.NopCloser(&buf), nil
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

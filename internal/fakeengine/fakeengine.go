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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

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
	services map[string]*swarm.Service
	tasks    map[string][]swarm.Task // by service ID
	networks map[string]network.Summary
	secrets  map[string]swarm.Secret
	configs  map[string]swarm.Config
	volumes  map[string]volume.Volume
}

// New returns an empty engine: a one-node Swarm with nothing on it.
func New() *Engine {
	return &Engine{
		Nodes:    1,
		Rollback: map[string]string{},
		Stall:    map[string]bool{},
		Fail:     map[string]error{},
		Logs:     map[string]string{},
		services: map[string]*swarm.Service{},
		tasks:    map[string][]swarm.Task{},
		networks: map[string]network.Summary{},
		secrets:  map[string]swarm.Secret{},
		configs:  map[string]swarm.Config{},
		volumes:  map[string]volume.Volume{},
	}
}

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
	e.networks[id] = n
}

// AddSecret puts a secret on the engine without recording a call (e.g. an external secret).
func (e *Engine) AddSecret(name string, data []byte, labels map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.newID("sec")
	e.secrets[id] = swarm.Secret{ID: id, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: copyMap(labels)}, Data: data}}
}

// AddConfig puts a config on the engine without recording a call (e.g. an external config).
func (e *Engine) AddConfig(name string, data []byte, labels map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.newID("cfg")
	e.configs[id] = swarm.Config{ID: id, Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name, Labels: copyMap(labels)}, Data: data}}
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
	t := swarm.Task{ID: e.newID("task"), ServiceID: s.ID, Spec: cloneSpec(s.Spec).TaskTemplate,
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
	failed := cloneSpec(s.Spec)
	s.Spec, s.PreviousSpec = cloneSpec(*s.PreviousSpec), &failed
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
	for _, s := range e.services {
		out = append(out, cloneService(*s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
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
	return sortedNames(e.networks, func(n network.Summary) string { return n.Name })
}

// SecretNames returns the names of the secrets on the engine, sorted.
func (e *Engine) SecretNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sortedNames(e.secrets, func(s swarm.Secret) string { return s.Spec.Name })
}

// Secret returns the secret with the given name, with its data.
func (e *Engine) Secret(name string) (swarm.Secret, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if s.Spec.Name == name {
			return s, true
		}
	}
	return swarm.Secret{}, false
}

// ConfigNames returns the names of the configs on the engine, sorted.
func (e *Engine) ConfigNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sortedNames(e.configs, func(c swarm.Config) string { return c.Spec.Name })
}

// VolumeNames returns the names of the volumes on the engine, sorted.
func (e *Engine) VolumeNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sortedNames(e.volumes, func(v volume.Volume) string { return v.Name })
}

func sortedNames[T any](m map[string]T, name func(T) string) []string {
	out := []string{}
	for _, v := range m {
		out = append(out, name(v))
	}
	sort.Strings(out)
	return out
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
	for _, s := range e.services {
		if matchLabels(o.Filters, s.Spec.Labels) && matchName(o.Filters, s.Spec.Name, s.ID) {
			c := cloneService(*s)
			if o.Status {
				c.ServiceStatus = e.status(s)
			}
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return client.ServiceListResult{Items: out}, nil
}

func (e *Engine) find(idOrName string) *swarm.Service {
	if s, ok := e.services[idOrName]; ok {
		return s
	}
	for _, s := range e.services {
		if s.Spec.Name == idOrName {
			return s
		}
	}
	return nil
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
	return client.ServiceInspectResult{Service: cloneService(*s)}, nil
}

// ServiceCreate creates a service; its tasks run (or complete, for jobs) at once.
func (e *Engine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("ServiceCreate", o.Spec.Name, true); err != nil {
		return client.ServiceCreateResult{}, err
	}
	if e.find(o.Spec.Name) != nil {
		return client.ServiceCreateResult{}, fmt.Errorf("service %s already exists", o.Spec.Name)
	}
	if err := e.checkRefs(o.Spec); err != nil {
		return client.ServiceCreateResult{}, err
	}
	now := time.Now()
	s := &swarm.Service{ID: e.newID("svc"), Spec: cloneSpec(o.Spec)}
	s.Version.Index = 1
	s.CreatedAt, s.UpdatedAt = now, now
	e.services[s.ID] = s
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
	prev := cloneSpec(s.Spec)
	s.Version.Index++
	s.UpdatedAt = now
	if o.Rollback == "previous" {
		if s.PreviousSpec == nil {
			return client.ServiceUpdateResult{}, fmt.Errorf("service %s has no previous spec", s.Spec.Name)
		}
		s.Spec, s.PreviousSpec = cloneSpec(*s.PreviousSpec), &prev
		s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, StartedAt: &now, CompletedAt: &now,
			Message: "manually requested rollback"}
		e.runTasks(s)
		return client.ServiceUpdateResult{}, nil
	}
	if e.Stall[s.Spec.Name] {
		delete(e.Stall, s.Spec.Name)
		s.PreviousSpec = &prev
		s.Spec = cloneSpec(o.Spec)
		s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating, StartedAt: &now, Message: "update in progress"}
		e.runTasks(s)
		for i := range e.tasks[s.ID] {
			e.tasks[s.ID][i].Status.State = swarm.TaskStateStarting
		}
		return client.ServiceUpdateResult{}, nil
	}
	if taskErr, ok := e.Rollback[s.Spec.Name]; ok {
		delete(e.Rollback, s.Spec.Name)
		failed := swarm.Task{ID: e.newID("task"), ServiceID: s.ID, Spec: cloneSpec(o.Spec).TaskTemplate,
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
	s.Spec = cloneSpec(o.Spec)
	s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateCompleted, StartedAt: &now, CompletedAt: &now, Message: "update completed"}
	e.mountVolumes(s.Spec)
	e.runTasks(s)
	return client.ServiceUpdateResult{}, nil
}

// ServiceRemove removes a service and its tasks.
func (e *Engine) ServiceRemove(_ context.Context, id string, _ client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.find(id)
	name := id
	if s != nil {
		name = s.Spec.Name
	}
	if err := e.record("ServiceRemove", name, true); err != nil {
		return client.ServiceRemoveResult{}, err
	}
	if s == nil {
		return client.ServiceRemoveResult{}, notFound("service", id)
	}
	delete(e.services, s.ID)
	delete(e.tasks, s.ID)
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
		s := e.services[id]
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
		t := swarm.Task{ID: e.newID("task"), ServiceID: s.ID, Slot: int(i + 1), Spec: cloneSpec(s.Spec).TaskTemplate,
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
		if _, ok := e.volumes[m.Source]; ok {
			continue
		}
		v := volume.Volume{Name: m.Source, Driver: "local"}
		if m.VolumeOptions != nil {
			v.Labels = copyMap(m.VolumeOptions.Labels)
			if m.VolumeOptions.DriverConfig != nil {
				v.Driver = m.VolumeOptions.DriverConfig.Name
			}
		}
		e.volumes[m.Source] = v
	}
}

// checkRefs rejects a spec whose secret or config references do not exist, as Swarm does.
func (e *Engine) checkRefs(spec swarm.ServiceSpec) error {
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return errors.New("service spec has no container spec")
	}
	for _, r := range cs.Secrets {
		s, ok := e.secrets[r.SecretID]
		if !ok || s.Spec.Name != r.SecretName {
			return fmt.Errorf("secret not found: %s (%s)", r.SecretName, r.SecretID)
		}
	}
	for _, r := range cs.Configs {
		c, ok := e.configs[r.ConfigID]
		if !ok || c.Spec.Name != r.ConfigName {
			return fmt.Errorf("config not found: %s (%s)", r.ConfigName, r.ConfigID)
		}
	}
	for _, n := range spec.TaskTemplate.Networks {
		found := false
		for id, have := range e.networks {
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

// inUse reports whether a service references the secret or config ID.
func (e *Engine) inUse(id string) string {
	for _, s := range e.services {
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
	var out []network.Summary
	for _, n := range e.networks {
		if matchLabels(o.Filters, n.Labels) && matchName(o.Filters, n.Name, n.ID) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return client.NetworkListResult{Items: out}, nil
}

// NetworkCreate creates a network; names are unique.
func (e *Engine) NetworkCreate(_ context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("NetworkCreate", name, true); err != nil {
		return client.NetworkCreateResult{}, err
	}
	for _, n := range e.networks {
		if n.Name == name {
			return client.NetworkCreateResult{}, fmt.Errorf("network with name %s already exists", name)
		}
	}
	id := e.newID("net")
	n := network.Summary{}
	n.ID, n.Name, n.Driver, n.Scope, n.Internal, n.Attachable, n.Labels =
		id, name, o.Driver, o.Scope, o.Internal, o.Attachable, copyMap(o.Labels)
	e.networks[id] = n
	return client.NetworkCreateResult{ID: id}, nil
}

// NetworkRemove removes a network by ID or name; it fails while a service uses it.
func (e *Engine) NetworkRemove(_ context.Context, id string, _ client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key, name := "", id
	for k, n := range e.networks {
		if k == id || n.Name == id {
			key, name = k, n.Name
		}
	}
	if err := e.record("NetworkRemove", name, true); err != nil {
		return client.NetworkRemoveResult{}, err
	}
	if key == "" {
		return client.NetworkRemoveResult{}, notFound("network", id)
	}
	for _, s := range e.services {
		for _, a := range s.Spec.TaskTemplate.Networks {
			if a.Target == key || a.Target == name {
				return client.NetworkRemoveResult{}, fmt.Errorf("network %s is in use by service %s", name, s.Spec.Name)
			}
		}
	}
	delete(e.networks, key)
	return client.NetworkRemoveResult{}, nil
}

// SecretList lists secrets matching the label and name filters (without their data, as the
// engine does).
func (e *Engine) SecretList(_ context.Context, o client.SecretListOptions) (client.SecretListResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("SecretList", "", false); err != nil {
		return client.SecretListResult{}, err
	}
	var out []swarm.Secret
	for _, s := range e.secrets {
		if matchLabels(o.Filters, s.Spec.Labels) && matchName(o.Filters, s.Spec.Name, s.ID) {
			s.Spec.Data = nil
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return client.SecretListResult{Items: out}, nil
}

// SecretCreate creates a secret; names are unique.
func (e *Engine) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("SecretCreate", o.Spec.Name, true); err != nil {
		return client.SecretCreateResult{}, err
	}
	for _, s := range e.secrets {
		if s.Spec.Name == o.Spec.Name {
			return client.SecretCreateResult{}, fmt.Errorf("secret %s already exists", o.Spec.Name)
		}
	}
	id := e.newID("sec")
	spec := o.Spec
	spec.Labels = copyMap(spec.Labels)
	spec.Data = append([]byte(nil), spec.Data...)
	e.secrets[id] = swarm.Secret{ID: id, Spec: spec}
	return client.SecretCreateResult{ID: id}, nil
}

// SecretRemove removes a secret by ID or name; it fails while a service uses it.
func (e *Engine) SecretRemove(_ context.Context, id string, _ client.SecretRemoveOptions) (client.SecretRemoveResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key, name := "", id
	for k, s := range e.secrets {
		if k == id || s.Spec.Name == id {
			key, name = k, s.Spec.Name
		}
	}
	if err := e.record("SecretRemove", name, true); err != nil {
		return client.SecretRemoveResult{}, err
	}
	if key == "" {
		return client.SecretRemoveResult{}, notFound("secret", id)
	}
	if user := e.inUse(key); user != "" {
		return client.SecretRemoveResult{}, fmt.Errorf("secret %s is in use by service %s", name, user)
	}
	delete(e.secrets, key)
	return client.SecretRemoveResult{}, nil
}

// ConfigList lists configs matching the label and name filters.
func (e *Engine) ConfigList(_ context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("ConfigList", "", false); err != nil {
		return client.ConfigListResult{}, err
	}
	var out []swarm.Config
	for _, c := range e.configs {
		if matchLabels(o.Filters, c.Spec.Labels) && matchName(o.Filters, c.Spec.Name, c.ID) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return client.ConfigListResult{Items: out}, nil
}

// ConfigCreate creates a config; names are unique.
func (e *Engine) ConfigCreate(_ context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("ConfigCreate", o.Spec.Name, true); err != nil {
		return client.ConfigCreateResult{}, err
	}
	for _, c := range e.configs {
		if c.Spec.Name == o.Spec.Name {
			return client.ConfigCreateResult{}, fmt.Errorf("config %s already exists", o.Spec.Name)
		}
	}
	id := e.newID("cfg")
	spec := o.Spec
	spec.Labels = copyMap(spec.Labels)
	spec.Data = append([]byte(nil), spec.Data...)
	e.configs[id] = swarm.Config{ID: id, Spec: spec}
	return client.ConfigCreateResult{ID: id}, nil
}

// ConfigRemove removes a config by ID or name; it fails while a service uses it.
func (e *Engine) ConfigRemove(_ context.Context, id string, _ client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key, name := "", id
	for k, c := range e.configs {
		if k == id || c.Spec.Name == id {
			key, name = k, c.Spec.Name
		}
	}
	if err := e.record("ConfigRemove", name, true); err != nil {
		return client.ConfigRemoveResult{}, err
	}
	if key == "" {
		return client.ConfigRemoveResult{}, notFound("config", id)
	}
	if user := e.inUse(key); user != "" {
		return client.ConfigRemoveResult{}, fmt.Errorf("config %s is in use by service %s", name, user)
	}
	delete(e.configs, key)
	return client.ConfigRemoveResult{}, nil
}

// VolumeList lists volumes matching the label and name filters.
func (e *Engine) VolumeList(_ context.Context, o client.VolumeListOptions) (client.VolumeListResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("VolumeList", "", false); err != nil {
		return client.VolumeListResult{}, err
	}
	var out []volume.Volume
	for _, v := range e.volumes {
		if matchLabels(o.Filters, v.Labels) && matchName(o.Filters, v.Name, v.Name) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return client.VolumeListResult{Items: out}, nil
}

// VolumeRemove removes a volume by name.
func (e *Engine) VolumeRemove(_ context.Context, name string, _ client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.record("VolumeRemove", name, true); err != nil {
		return client.VolumeRemoveResult{}, err
	}
	if _, ok := e.volumes[name]; !ok {
		return client.VolumeRemoveResult{}, notFound("volume", name)
	}
	delete(e.volumes, name)
	return client.VolumeRemoveResult{}, nil
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

// cloneSpec deep-copies a spec through JSON, so the caller's later changes do not leak in.
func cloneSpec(s swarm.ServiceSpec) swarm.ServiceSpec {
	b, err := json.Marshal(s)
	if err != nil {
		panic("fakeengine: " + err.Error())
	}
	var out swarm.ServiceSpec
	if err := json.Unmarshal(b, &out); err != nil {
		panic("fakeengine: " + err.Error())
	}
	return out
}

func cloneService(s swarm.Service) swarm.Service {
	b, err := json.Marshal(s)
	if err != nil {
		panic("fakeengine: " + err.Error())
	}
	var out swarm.Service
	if err := json.Unmarshal(b, &out); err != nil {
		panic("fakeengine: " + err.Error())
	}
	return out
}

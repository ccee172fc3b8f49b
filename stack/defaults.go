package stack

import (
	"time"

	"github.com/kalisio/kargo/internal/deepcopy"
)

// DefaultNetwork is the overlay network every stack has; services without explicit networks join it.
const DefaultNetwork = "default"

// Default values applied by Defaulted. They follow from the machines Kargo targets: no IPVS,
// so dnsrr endpoints and host-mode ports; rollback on a failed update.
const (
	DefaultSecretMode      uint32 = 0o400
	DefaultConfigMode      uint32 = 0o444
	DefaultUpdateMonitor          = 10 * time.Second
	DefaultRestartDelay           = 5 * time.Second
	DefaultRollbackMonitor        = 5 * time.Second
)

// Defaulted returns a deep copy of the stack with every default applied. The receiver is not
// modified. It is the one place where defaults live: Normalize validates its result, which
// Render works on.
func (s *Stack) Defaulted() *Stack {
	out := s.clone()
	usesDefault := false
	for _, svc := range out.Services {
		if svc == nil {
			continue
		}
		svc.applyDefaults()
		for _, n := range svc.Networks {
			if n == DefaultNetwork {
				usesDefault = true
			}
		}
	}
	if usesDefault {
		declared := false
		for _, n := range out.AllNetworks() {
			if n.Name == DefaultNetwork {
				declared = true
			}
		}
		if !declared {
			out.Networks = append(out.Networks, Network{Name: DefaultNetwork})
		}
	}
	for i := range out.Networks {
		out.Networks[i].applyDefaults()
	}
	for _, svc := range out.Services {
		if svc == nil {
			continue
		}
		for i := range svc.Declares.Networks {
			svc.Declares.Networks[i].applyDefaults()
		}
	}
	for i := range out.Volumes {
		out.Volumes[i].applyDefaults()
	}
	for _, svc := range out.Services {
		if svc == nil {
			continue
		}
		for i := range svc.Declares.Volumes {
			svc.Declares.Volumes[i].applyDefaults()
		}
	}
	return out
}

func (n *Network) applyDefaults() {
	if n.Driver == "" {
		n.Driver = "overlay"
	}
	if n.Attachable == nil {
		n.Attachable = Ptr(true)
	}
}

func (v *Volume) applyDefaults() {
	if v.Driver == "" {
		v.Driver = "local"
	}
}

func (svc *Service) applyDefaults() {
	if svc.Mode == "" {
		svc.Mode = Replicated
	}
	if svc.Replicas == nil && (svc.Mode == Replicated || svc.Mode == ReplicatedJob) {
		svc.Replicas = Ptr(uint64(1))
	}
	if svc.EndpointMode == "" {
		svc.EndpointMode = DNSRR
	}
	if len(svc.Networks) == 0 {
		svc.Networks = []string{DefaultNetwork}
	}
	hostPorts := false
	for i := range svc.Ports {
		p := &svc.Ports[i]
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		if p.Mode == "" {
			p.Mode = HostPort
		}
		if p.Published == 0 && p.Mode == HostPort {
			p.Published = p.Target
		}
		if p.Mode == HostPort {
			hostPorts = true
		}
	}
	for i := range svc.Mounts {
		if svc.Mounts[i].Type == "" {
			svc.Mounts[i].Type = VolumeMount
		}
	}
	for i := range svc.Secrets {
		r := &svc.Secrets[i]
		if r.Target == "" {
			r.Target = r.Source
		}
		fileDefaults(r, DefaultSecretMode)
	}
	for i := range svc.Configs {
		fileDefaults(&svc.Configs[i], DefaultConfigMode)
	}
	if svc.Mode.IsJob() {
		// Swarm rejects update policies other than defaults for jobs, and a job that
		// exited is done: restart only on failure, a bounded number of times.
		if svc.Restart == nil {
			svc.Restart = &RestartPolicy{Condition: "on-failure", Delay: DefaultRestartDelay, MaxAttempts: 3}
		}
		return
	}
	// Two tasks cannot hold the same host port on one node: replace them stop-first.
	order := StartFirst
	if hostPorts {
		order = StopFirst
	}
	if svc.Update == nil {
		svc.Update = &UpdatePolicy{}
	}
	u := svc.Update
	if u.Parallelism == 0 {
		u.Parallelism = 1
	}
	if u.Order == "" {
		u.Order = order
	}
	if u.FailureAction == "" {
		u.FailureAction = "rollback"
	}
	if u.Monitor == 0 {
		u.Monitor = svc.monitorWindow()
	}
	if svc.Rollback == nil {
		svc.Rollback = &UpdatePolicy{}
	}
	r := svc.Rollback
	if r.Parallelism == 0 {
		r.Parallelism = 1
	}
	if r.Order == "" {
		r.Order = order
		// A service whose update stops the old task first (one writer on a data volume)
		// stops the failed task first when rolling back too.
		if u.Order == StopFirst {
			r.Order = StopFirst
		}
	}
	if r.FailureAction == "" {
		r.FailureAction = "pause"
	}
	if r.Monitor == 0 {
		r.Monitor = DefaultRollbackMonitor
	}
	// A long-running service restarts whatever the exit code: Apache and Caddy exit 0 on the
	// SIGTERM Swarm sends to an unhealthy task, and under on-failure such a task would end
	// "complete" and never be replaced.
	if svc.Restart == nil {
		svc.Restart = &RestartPolicy{Condition: "any", Delay: DefaultRestartDelay}
	}
	if svc.Restart.Condition == "" {
		svc.Restart.Condition = "any"
	}
}

// monitorWindow is long enough for a failing health check to mark a new task unhealthy
// before Swarm considers the update a success. The start period is not part of it: Swarm
// reports a task with a health check as running (and starts monitoring it) only once it is
// healthy; a task that never gets healthy fails before that and fails the update anyway.
func (svc *Service) monitorWindow() time.Duration {
	h := svc.Health
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return DefaultUpdateMonitor
	}
	interval := h.Interval
	if interval == 0 {
		interval = 30 * time.Second
	}
	retries := h.Retries
	if retries == 0 {
		retries = 3
	}
	w := interval * time.Duration(retries+1)
	if w < DefaultUpdateMonitor {
		w = DefaultUpdateMonitor
	}
	return w
}

func fileDefaults(r *FileRef, mode uint32) {
	if r.UID == "" {
		r.UID = "0"
	}
	if r.GID == "" {
		r.GID = "0"
	}
	if r.Mode == 0 {
		r.Mode = mode
	}
}

// clone deep-copies the stack. Every field is exported plain data, so deepcopy.Of's copy is
// complete; unlike a JSON round trip it keeps nil and empty apart and accepts any number,
// NaN included (Validate reports it).
func (s *Stack) clone() *Stack { return deepcopy.Of(s) }

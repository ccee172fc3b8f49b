// Package stack is the plain data model of a Kargo stack: the services of a geospatial
// infrastructure with their networks, volumes, secrets and configs.
//
// A Stack is built from parts (services made by the builders under services/, or components
// that group several services), defaulted in one place (Defaulted) and checked by Validate, which
// returns every problem at once, each with its path; Normalize does both. Nothing here talks to a Docker Engine:
// package swarmx renders a Stack into Swarm specs and applies them.
package stack

import (
	"fmt"
	"sort"
	"time"
)

// Stack is a named set of services and the objects they use. Its name becomes the
// com.docker.stack.namespace label of every Swarm object, so `docker stack ls/ps/services/rm`
// see stacks Kargo applied.
type Stack struct {
	// Name of the stack; prefixes the Swarm name of every object (<stack>_<name>).
	Name string `validate:"required"`
	// Services of the stack, in the order they were added.
	Services []*Service `validate:"dive"`
	// Networks declared by the stack. A stack always has the overlay network "default",
	// which services without explicit networks join.
	Networks []Network `validate:"dive"`
	// Volumes declared by the stack. Named volumes used by a mount but not declared are
	// created with the local driver.
	Volumes []Volume `validate:"dive"`
	// Secrets declared by the stack, mounted into services as files.
	Secrets []Secret `validate:"dive"`
	// Configs declared by the stack, mounted into services as files.
	Configs []Config `validate:"dive"`
	// Labels added to every object of the stack.
	Labels map[string]string
	// Registry, when set (host[:port] every node can pull from, e.g. "10.199.0.1:5000"), is
	// where Kargo pushes the images it builds; services refer to them there, so any node of
	// a cluster can start any task. Empty: the images stay on the engine that built them.
	Registry string
	// Nodes are the labels Kargo keeps on the Swarm's nodes (for placement constraints such
	// as "node.labels.postgis==true"). Kargo only changes the labels it set itself.
	Nodes []NodeLabels
}

// Part is anything that contributes to a stack: a *Service, a component of several services
// (Weacast = API + loaders), or a shared object such as a Network, Volume, Secret or Config.
type Part interface {
	// AddTo adds the part, and every object it declares, to s.
	AddTo(s *Stack)
}

// New makes a stack from parts. The parts are added in order; Validate reports conflicts.
func New(name string, parts ...Part) *Stack {
	s := &Stack{Name: name}
	s.Add(parts...)
	return s
}

// Add adds parts to the stack and returns it, so calls chain.
func (s *Stack) Add(parts ...Part) *Stack {
	for _, p := range parts {
		if p != nil {
			p.AddTo(s)
		}
	}
	return s
}

// Service returns the service with the given name, or nil.
func (s *Stack) Service(name string) *Service {
	for _, svc := range s.Services {
		if svc != nil && svc.Name == name {
			return svc
		}
	}
	return nil
}

// AddTo adds the service and every object it declares to the stack.
func (svc *Service) AddTo(s *Stack) {
	s.Services = append(s.Services, svc)
}

// AddTo adds the network to the stack.
func (n Network) AddTo(s *Stack) { s.Networks = append(s.Networks, n) }

// AddTo adds the volume to the stack.
func (v Volume) AddTo(s *Stack) { s.Volumes = append(s.Volumes, v) }

// AddTo adds the secret to the stack.
func (sec Secret) AddTo(s *Stack) { s.Secrets = append(s.Secrets, sec) }

// AddTo adds the config to the stack.
func (c Config) AddTo(s *Stack) { s.Configs = append(s.Configs, c) }

// Mode says how Swarm schedules a service's tasks.
type Mode string

// Service modes. Jobs run to completion: a replicated job runs Replicas tasks once; a job with
// a Schedule is re-run by Kargo's scheduler service.
const (
	Replicated    Mode = "replicated"
	Global        Mode = "global"
	ReplicatedJob Mode = "replicated-job"
	GlobalJob     Mode = "global-job"
)

// IsJob reports whether the mode runs tasks to completion.
func (m Mode) IsJob() bool { return m == ReplicatedJob || m == GlobalJob }

// EndpointMode says how other services reach a service's tasks.
type EndpointMode string

// Endpoint modes. DNSRR is the default: it works on kernels without IPVS, where a VIP (like
// the ingress routing mesh) never answers; VIP needs a kernel with IPVS.
const (
	// DNSRR: the service's name resolves to the addresses of its tasks, in turn.
	DNSRR EndpointMode = "dnsrr"
	// VIP: the service's name resolves to one virtual IP that IPVS balances over the tasks.
	VIP EndpointMode = "vip"
)

// Service is one Swarm service: its image, what it runs, how many, where, and what it mounts.
type Service struct {
	// Name of the service within its stack; the Swarm service is named <stack>_<name>, and
	// other services of the stack reach it by <name> on a shared network.
	Name string `validate:"required"`
	// Image reference, e.g. "kargo/postgis:15-3.3" or "postgis/postgis:15-3.3".
	Image string `validate:"required"`
	// Command replaces the image's entrypoint; nil keeps it.
	Command []string
	// Args replaces the image's CMD (the arguments given to the entrypoint); nil keeps it.
	Args []string
	// Env sets environment variables. Never put a password here: use Secrets with a *_FILE variable.
	Env map[string]string
	// WorkDir is the containers' working directory; empty keeps the image's.
	WorkDir string
	// User the containers run as, as "user", "uid" or "uid:gid"; empty keeps the image's.
	User string
	// Hostname of the containers; empty keeps Docker's default (the container ID).
	Hostname string
	// Mode is replicated (default), global, replicated-job or global-job.
	Mode Mode `validate:"omitempty,oneof=replicated global replicated-job global-job"`
	// Replicas for replicated services and jobs (total completions for jobs). Nil means 1.
	Replicas *uint64
	// MaxConcurrent limits how many tasks of a replicated job run at once (0 = Replicas).
	MaxConcurrent uint64
	// Schedule re-runs a job-mode service on a 6-field cron schedule (seconds first), e.g.
	// "0 */10 * * * *". Kargo's scheduler service performs the runs and never overlaps them.
	Schedule string
	// Placement constrains the nodes the tasks may run on.
	Placement Placement
	// Resources are CPU and memory limits and reservations.
	Resources Resources
	// Mounts are named volumes, bind mounts and tmpfs.
	Mounts []Mount `validate:"dive"`
	// Ports published by the service. Host mode is the default (see EndpointMode).
	Ports []Port `validate:"dive"`
	// EndpointMode is dnsrr (default) or vip.
	EndpointMode EndpointMode `validate:"omitempty,oneof=dnsrr vip"`
	// Networks the service joins, by name; empty means the stack's "default" network.
	Networks []string
	// Aliases are extra DNS names of the service on every network it joins.
	Aliases []string
	// Secrets mounted as files (by default /run/secrets/<name>).
	Secrets []FileRef `validate:"dive"`
	// Configs mounted as files (Target is required).
	Configs []FileRef `validate:"dive"`
	// Health is the container health check; nil keeps the image's.
	Health *Health
	// Update and Rollback policies; nil means the defaults (start-first with rollback on failure).
	Update *UpdatePolicy
	// Rollback says how Swarm rolls a failed update back; nil means parallelism 1, the update's
	// order and pause on failure.
	Rollback *UpdatePolicy
	// Restart policy; nil means any (restart whatever the exit code) for services, and
	// on-failure, at most 3 times, for jobs.
	Restart *RestartPolicy
	// StopGracePeriod before the task is killed; 0 keeps Swarm's default (10s).
	StopGracePeriod time.Duration
	// DependsOn names services of the stack this one needs. Apply never leaves it running
	// before them: on a first apply it is created right after them (a service restarted
	// without limit) or once they converged (jobs, bounded restarts), and it counts as
	// converged only once they are; an update of it waits for theirs to converge.
	DependsOn []string
	// Labels are set on the service itself.
	Labels map[string]string
	// ContainerLabels are set on the service's containers.
	ContainerLabels map[string]string
	// Endpoints are the OGC (or plain HTTP) endpoints the service exposes; used by readiness
	// probes, `status` and the gateway.
	Endpoints []Endpoint `validate:"dive"`
	// Declares holds objects this service brings with it (its data volume, its password
	// secret, its config files). They are part of the stack as if declared there.
	Declares Objects
	// Problems are errors the builder that made the service found in its configuration
	// (an unknown weather model, a bad cron string...). Validate reports them under the
	// service's path, with every other problem, so builders never panic nor fail half-way.
	Problems []Problem
}

// Problemf records a configuration problem at a path relative to the service, e.g.
// svc.Problemf("config.models[2]", "unknown model %q", m).
func (svc *Service) Problemf(path, format string, args ...any) {
	svc.Problems = append(svc.Problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Group is a component made of several parts (for example Weacast: an API service plus one
// loader service per model). Adding a Group adds each of its parts.
type Group []Part

// AddTo adds every part of the group to the stack.
func (g Group) AddTo(s *Stack) {
	for _, p := range g {
		if p != nil {
			p.AddTo(s)
		}
	}
}

// Services returns the services of the group (recursively), in order.
func (g Group) Services() []*Service {
	tmp := &Stack{}
	g.AddTo(tmp)
	return tmp.Services
}

// Objects groups the shared objects a service or component brings into a stack.
type Objects struct {
	// Networks declared by the service or component.
	Networks []Network `validate:"dive"`
	// Volumes declared by the service or component.
	Volumes []Volume `validate:"dive"`
	// Secrets declared by the service or component.
	Secrets []Secret `validate:"dive"`
	// Configs declared by the service or component.
	Configs []Config `validate:"dive"`
}

// Placement constrains and spreads tasks over nodes.
type Placement struct {
	// Constraints in Swarm syntax, e.g. "node.labels.mapserver==true", "node.role==manager".
	Constraints []string
	// Spread tasks evenly over the values of these node labels, e.g. "node.labels.zone".
	Spread []string
	// MaxReplicasPerNode limits tasks of the service on one node (0 = no limit).
	MaxReplicasPerNode uint64
}

// Resources are CPU (in cores, e.g. 0.5) and memory (in bytes) limits and reservations.
type Resources struct {
	// CPULimit is the most CPU a task may use, in cores (e.g. 0.5); 0 = no limit.
	CPULimit float64 `validate:"gte=0"`
	// MemoryLimit is the most memory a task may use, in bytes; 0 = no limit.
	MemoryLimit int64 `validate:"gte=0"`
	// CPUReservation is the CPU, in cores, a node must have free to run a task; 0 = none.
	CPUReservation float64 `validate:"gte=0"`
	// MemoryReservation is the memory, in bytes, a node must have free to run a task; 0 = none.
	MemoryReservation int64 `validate:"gte=0"`
}

// Common sizes for Resources.
const (
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
)

// MountType is volume, bind or tmpfs.
type MountType string

// Mount types.
const (
	VolumeMount MountType = "volume"
	BindMount   MountType = "bind"
	TmpfsMount  MountType = "tmpfs"
)

// Mount is a filesystem mounted into the service's containers.
type Mount struct {
	// Type is volume (default), bind or tmpfs.
	Type MountType `validate:"omitempty,oneof=volume bind tmpfs"`
	// Source is the volume name (declared in the stack or created implicitly), or the host
	// path of a bind mount. Empty for tmpfs.
	Source string
	// Target is the absolute path in the container.
	Target string `validate:"required,startswith=/"`
	// ReadOnly mounts it read-only.
	ReadOnly bool
	// TmpfsSize limits a tmpfs mount, in bytes (0 = unlimited).
	TmpfsSize int64 `validate:"gte=0"`
	// HostControl says a bind mount of the host's root, of the Docker socket or of a
	// directory holding it is meant. Such a mount makes the service root on the node, so
	// Validate refuses it unless this is set (Kargo's scheduler sets it for the socket).
	HostControl bool
}

// PortMode is host (default, works without IPVS) or ingress (routing mesh).
type PortMode string

// Port publish modes.
const (
	HostPort    PortMode = "host"
	IngressPort PortMode = "ingress"
)

// Port is a container port published on the nodes.
type Port struct {
	// Target is the container port.
	Target uint32 `validate:"required,min=1,max=65535"`
	// Published is the node port; 0 lets Swarm choose (ingress) or uses Target (host).
	Published uint32 `validate:"max=65535"`
	// Protocol is tcp (default), udp or sctp.
	Protocol string `validate:"omitempty,oneof=tcp udp sctp"`
	// Mode is host (default) or ingress.
	Mode PortMode `validate:"omitempty,oneof=host ingress"`
}

// FileRef mounts a stack secret or config into a service as a file.
type FileRef struct {
	// Source is the name of the secret or config in the stack.
	Source string `validate:"required"`
	// Target is the file path (configs: absolute path, required; secrets: a name under
	// /run/secrets or an absolute path; default /run/secrets/<Source>).
	Target string
	// UID, GID and Mode of the file; defaults "0", "0", 0444 (configs) and 0400 (secrets).
	UID string
	// GID owning the file; default "0".
	GID string
	// Mode is the file's permission bits (at most 0777); default 0444 for configs, 0400 for secrets.
	Mode uint32 `validate:"lte=511"`
}

// Health is a container health check, as in a Dockerfile HEALTHCHECK.
type Health struct {
	// Test is ["CMD", args...], ["CMD-SHELL", "command"] or ["NONE"].
	Test []string `validate:"required,min=1"`
	// Interval between two checks; 0 = Docker's default (30s).
	Interval time.Duration
	// Timeout after which a check counts as failed; 0 = Docker's default (30s).
	Timeout time.Duration
	// StartPeriod is the time after start during which failed checks do not count; 0 = none.
	StartPeriod time.Duration
	// Retries is the number of consecutive failures that make the container unhealthy; 0 =
	// Docker's default (3).
	Retries int `validate:"gte=0"`
}

// UpdateOrder is start-first or stop-first.
type UpdateOrder string

// Update orders.
const (
	StartFirst UpdateOrder = "start-first"
	StopFirst  UpdateOrder = "stop-first"
)

// UpdatePolicy says how Swarm replaces tasks on an update (or a rollback).
type UpdatePolicy struct {
	// Parallelism is how many tasks are replaced at a time; 0 is defaulted to 1.
	Parallelism uint64
	// Delay between replacing one batch of tasks and the next; 0 = none.
	Delay time.Duration
	// Order is start-first (default for services without published host ports) or stop-first.
	Order UpdateOrder `validate:"omitempty,oneof=start-first stop-first"`
	// FailureAction is rollback (default for updates), pause or continue.
	FailureAction string `validate:"omitempty,oneof=rollback pause continue"`
	// Monitor is how long a new task is watched for failure.
	Monitor time.Duration
	// MaxFailureRatio of tasks that may fail during an update.
	MaxFailureRatio float32 `validate:"gte=0,lte=1"`
}

// RestartPolicy says when Swarm restarts a task that exited.
type RestartPolicy struct {
	// Condition is none, on-failure or any.
	Condition string `validate:"omitempty,oneof=none on-failure any"`
	// Delay between restart attempts; 0 = Swarm's default (5s).
	Delay time.Duration
	// MaxAttempts is how many times a task is restarted before giving up; 0 = no limit.
	MaxAttempts uint64
	// Window is the time over which restart attempts are counted; 0 = unbounded.
	Window time.Duration
}

// EndpointKind is the protocol of an endpoint a service exposes.
type EndpointKind string

// Endpoint kinds.
const (
	WMS  EndpointKind = "WMS"
	WFS  EndpointKind = "WFS"
	WCS  EndpointKind = "WCS"
	WMTS EndpointKind = "WMTS"
	TMS  EndpointKind = "TMS"
	HTTP EndpointKind = "HTTP"
	// OGCAPIFeatures is an OGC API – Features root (landing page; /collections, /items).
	OGCAPIFeatures EndpointKind = "OGCAPI-Features"
	// XYZ serves tiles at <path>/<layer>@<grid>/{z}/{x}/{y}.<ext> (row 0 at the top).
	XYZ EndpointKind = "XYZ"
)

// Endpoint is an OGC (or HTTP) endpoint a service exposes inside the stack's networks.
type Endpoint struct {
	// Kind of endpoint.
	Kind EndpointKind `validate:"required,oneof=WMS WFS WCS WMTS TMS HTTP OGCAPI-Features XYZ"`
	// Port is the container port it listens on.
	Port uint32 `validate:"required,min=1,max=65535"`
	// Path on the service, e.g. "/wms" or "/mapcache/wmts/1.0.0/WMTSCapabilities.xml".
	// Query parameters are allowed (e.g. "/?map=/etc/mapserver/x.map").
	Path string `validate:"required,startswith=/"`
	// Layers the endpoint must list in its capabilities to be ready.
	Layers []string
	// Public is the path prefix a gateway routes to this endpoint (e.g. "/wms"); empty
	// means the endpoint is internal only.
	Public string
}

// Network is an overlay network.
type Network struct {
	// Name of the network within the stack; the Swarm network is <stack>_<name> (or <name>
	// itself when External).
	Name string `validate:"required"`
	// Attachable lets standalone containers join (default true for Kargo stacks).
	Attachable *bool
	// Internal networks have no outside access.
	Internal bool
	// External networks are not created nor removed by Kargo: they must exist.
	External bool
	// Driver defaults to overlay.
	Driver string
	// Labels added to the network, on top of the stack's.
	Labels map[string]string
}

// Volume is a named volume.
type Volume struct {
	// Name of the volume within the stack; the Docker volume is <stack>_<name> (or <name>
	// itself when External).
	Name string `validate:"required"`
	// Driver is the volume driver; empty means local.
	Driver string
	// DriverOpts are options passed to the volume driver.
	DriverOpts map[string]string
	// External volumes are neither created nor removed by Kargo.
	External bool
	// Labels added to the volume, on top of the stack's.
	Labels map[string]string
}

// Secret is sensitive data shipped to services as a file, never as an env value. Exactly one
// of Data, File, Env or Generate gives its content. Secret values never appear in a plan,
// a rendered spec or a log.
type Secret struct {
	// Name of the secret within the stack, which services refer to in FileRef.Source. The Swarm
	// secret is <stack>_<name>_v<version> (<stack>_<name> when generated, <name> when External).
	Name string `validate:"required"`
	// Data is the content itself.
	Data []byte
	// File is a path, read by the deploy program when it renders the stack.
	File string
	// Env is an environment variable of the deploy program that holds the content.
	Env string
	// Generate makes a random secret of that many characters the first time the stack is
	// applied, and keeps the existing one afterwards (it is never shown).
	Generate int `validate:"gte=0,lte=4096"`
	// External secrets already exist in the Swarm under this exact name.
	External bool
	// Labels added to the secret, on top of the stack's.
	Labels map[string]string
	// Identity, when set, stands for the content when Kargo tells whether the secret changed
	// since it was applied. For content made with randomness (a bcrypt hash with a random
	// salt), Identity is what it was made from (the password and whatever else shapes the
	// content), so the existing secret, made from the same, is kept as it is and applying
	// again changes nothing. It is as secret as the content and never leaves the deploy program.
	Identity []byte
}

// HasSource reports whether the secret says where its content comes from: Data, File, Env,
// Generate or External. Builders use it to fill in a default (usually Generate) only when
// the user gave none.
func (s Secret) HasSource() bool {
	return s.Data != nil || s.File != "" || s.Env != "" || s.Generate != 0 || s.External
}

// Config is non-sensitive data shipped to services as a file.
type Config struct {
	// Name of the config within the stack, which services refer to in FileRef.Source. The Swarm
	// config is <stack>_<name>_<content hash> (<name> itself when External).
	Name string `validate:"required"`
	// Data is the content itself.
	Data []byte
	// File is a path to the content, read by the deploy program when it renders the stack.
	File string
	// Derive makes the content when the stack is rendered from the content of another config
	// of the stack: for a file that depends on a file the user names by path (a Caddyfile that
	// names its certificate's host), so that only the render reads that file, once.
	Derive *Derivation
	// External configs already exist in the Swarm under this exact name.
	External bool
	// Labels added to the config, on top of the stack's.
	Labels map[string]string
}

// Derivation makes a config's content from the content of another config when the stack is
// rendered (Config.Derive).
type Derivation struct {
	// From is the name of the config whose content Make receives.
	From string `validate:"required"`
	// Make returns the content from From's. It reads nothing else: the render gives it all
	// it uses.
	Make func(from []byte) ([]byte, error) `json:"-"`
}

// Ptr returns a pointer to v; handy for Replicas and Attachable.
func Ptr[T any](v T) *T { return &v }

// AllNetworks returns the networks declared by the stack and by its services, each once.
func (s *Stack) AllNetworks() []Network {
	return collect(s.Networks, s.Services, func(o Objects) []Network { return o.Networks }, func(n Network) string { return n.Name })
}

// AllVolumes returns the volumes declared by the stack and by its services, each once.
func (s *Stack) AllVolumes() []Volume {
	return collect(s.Volumes, s.Services, func(o Objects) []Volume { return o.Volumes }, func(v Volume) string { return v.Name })
}

// AllSecrets returns the secrets declared by the stack and by its services, each once.
func (s *Stack) AllSecrets() []Secret {
	return collect(s.Secrets, s.Services, func(o Objects) []Secret { return o.Secrets }, func(v Secret) string { return v.Name })
}

// AllConfigs returns the configs declared by the stack and by its services, each once.
func (s *Stack) AllConfigs() []Config {
	return collect(s.Configs, s.Services, func(o Objects) []Config { return o.Configs }, func(v Config) string { return v.Name })
}

// collect merges stack-level and service-level declarations, keeping the first of each name
// (Validate reports names declared twice with different content), sorted by name.
func collect[T any](top []T, services []*Service, of func(Objects) []T, name func(T) string) []T {
	seen := map[string]bool{}
	var out []T
	add := func(items []T) {
		for _, it := range items {
			if n := name(it); !seen[n] {
				seen[n] = true
				out = append(out, it)
			}
		}
	}
	add(top)
	for _, svc := range services {
		if svc != nil {
			add(of(svc.Declares))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return name(out[i]) < name(out[j]) })
	return out
}

package swarmx

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/swarm"
	"gopkg.in/yaml.v3"
)

// Redacted returns a copy of the desired objects with secret contents removed, safe to print.
func (d *Desired) Redacted() *Desired {
	out := *d
	out.Secrets = make([]Secret, len(d.Secrets))
	for i, s := range d.Secrets {
		s.Spec.Data, s.Fingerprint = nil, nil
		out.Secrets[i] = s
	}
	return &out
}

// composeFile is a compose file (version 3.8) as `docker stack deploy -c` reads it.
type composeFile struct {
	// Version of the compose file format, "3.8".
	Version string `yaml:"version"`
	// Services by logical name.
	Services map[string]composeService `yaml:"services"`
	// Networks by logical name.
	Networks map[string]composeObject `yaml:"networks,omitempty"`
	// Volumes by logical name.
	Volumes map[string]composeObject `yaml:"volumes,omitempty"`
	// Secrets by logical name.
	Secrets map[string]composeObject `yaml:"secrets,omitempty"`
	// Configs by logical name.
	Configs map[string]composeObject `yaml:"configs,omitempty"`
}

// composeObject is a top-level network, volume, secret or config of a compose file.
type composeObject struct {
	// Name is the object's exact Swarm name (external objects, secrets and configs); empty lets
	// docker stack deploy name it <stack>_<key>.
	Name string `yaml:"name,omitempty"`
	// External objects must already exist; docker stack deploy neither creates nor removes them.
	External bool `yaml:"external,omitempty"`
	// Driver of a network or volume.
	Driver string `yaml:"driver,omitempty"`
	// DriverOpts are options passed to a volume's driver.
	DriverOpts map[string]string `yaml:"driver_opts,omitempty"`
	// Attachable lets standalone containers join a network.
	Attachable bool `yaml:"attachable,omitempty"`
	// Internal networks have no outside access.
	Internal bool `yaml:"internal,omitempty"`
	// File holds the content of a secret or config, relative to the compose file.
	File string `yaml:"file,omitempty"`
	// Labels on the object, without Kargo's bookkeeping labels.
	Labels map[string]string `yaml:"labels,omitempty"`
}

// composeService is one service of a compose file.
type composeService struct {
	// Image reference.
	Image string `yaml:"image"`
	// Entrypoint replaces the image's entrypoint.
	Entrypoint []string `yaml:"entrypoint,omitempty"`
	// Command replaces the image's CMD.
	Command []string `yaml:"command,omitempty"`
	// Environment variables as KEY=value.
	Environment []string `yaml:"environment,omitempty"`
	// WorkingDir overrides the image's working directory.
	WorkingDir string `yaml:"working_dir,omitempty"`
	// User the containers run as.
	User string `yaml:"user,omitempty"`
	// Hostname of the containers.
	Hostname string `yaml:"hostname,omitempty"`
	// Labels on the containers (deploy.labels are on the service).
	Labels map[string]string `yaml:"labels,omitempty"`
	// StopGracePeriod before the task is killed, as a Go duration such as "30s".
	StopGracePeriod string `yaml:"stop_grace_period,omitempty"`
	// Healthcheck of the containers; nil keeps the image's.
	Healthcheck *composeHealth `yaml:"healthcheck,omitempty"`
	// Ports published by the service.
	Ports []composePort `yaml:"ports,omitempty"`
	// Volumes are the service's mounts (volumes, bind mounts and tmpfs).
	Volumes []composeMount `yaml:"volumes,omitempty"`
	// Secrets mounted as files.
	Secrets []composeFileRef `yaml:"secrets,omitempty"`
	// Configs mounted as files.
	Configs []composeFileRef `yaml:"configs,omitempty"`
	// Networks the service joins, by key, with its aliases on each.
	Networks map[string]composeNetRef `yaml:"networks,omitempty"`
	// Deploy says how Swarm runs the service.
	Deploy composeDeploy `yaml:"deploy"`
}

// composeHealth is a compose healthcheck.
type composeHealth struct {
	// Test is ["CMD", args...], ["CMD-SHELL", "command"] or ["NONE"].
	Test []string `yaml:"test"`
	// Interval between two checks, as a Go duration; empty = Docker's default.
	Interval string `yaml:"interval,omitempty"`
	// Timeout of one check, as a Go duration; empty = Docker's default.
	Timeout string `yaml:"timeout,omitempty"`
	// Retries is the number of consecutive failures that make the container unhealthy.
	Retries int `yaml:"retries,omitempty"`
	// StartPeriod during which failed checks do not count, as a Go duration.
	StartPeriod string `yaml:"start_period,omitempty"`
}

// composePort is a published port in long syntax.
type composePort struct {
	// Target is the container port.
	Target uint32 `yaml:"target"`
	// Published is the node port.
	Published uint32 `yaml:"published,omitempty"`
	// Protocol is tcp, udp or sctp.
	Protocol string `yaml:"protocol,omitempty"`
	// Mode is host or ingress.
	Mode string `yaml:"mode,omitempty"`
}

// composeMount is a mount in long syntax.
type composeMount struct {
	// Type is volume, bind or tmpfs.
	Type string `yaml:"type"`
	// Source is the volume's key in the compose file, or the host path of a bind mount.
	Source string `yaml:"source,omitempty"`
	// Target is the absolute path in the container.
	Target string `yaml:"target"`
	// ReadOnly mounts it read-only.
	ReadOnly bool `yaml:"read_only,omitempty"`
	// Tmpfs holds tmpfs options: "size" in bytes.
	Tmpfs map[string]int64 `yaml:"tmpfs,omitempty"`
	// Volume holds volume options.
	Volume map[string]string `yaml:"volume,omitempty"`
}

// composeFileRef mounts a secret or config.
type composeFileRef struct {
	// Source is the key of the secret or config in the compose file.
	Source string `yaml:"source"`
	// Target is the file path in the container.
	Target string `yaml:"target,omitempty"`
	// UID owning the file.
	UID string `yaml:"uid,omitempty"`
	// GID owning the file.
	GID string `yaml:"gid,omitempty"`
	// Mode is the file's permission bits.
	Mode composeFileMode `yaml:"mode,omitempty"`
}

// composeFileMode is an octal file mode such as "0400". It is written as a YAML number
// (0o400): the compose schema of `docker stack deploy` rejects a string there.
type composeFileMode string

// MarshalYAML writes the mode as an octal integer.
func (m composeFileMode) MarshalYAML() (any, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(string(m), "0o"), 8, 32)
	if err != nil {
		return nil, fmt.Errorf("file mode %q: %w", string(m), err)
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprintf("0o%o", v)}, nil
}

// UnmarshalYAML reads an integer (0o400, 256) or a string ("0400").
func (m *composeFileMode) UnmarshalYAML(n *yaml.Node) error {
	if n.ShortTag() == "!!int" {
		var v uint32
		if err := n.Decode(&v); err != nil {
			return err
		}
		*m = composeFileMode(fmt.Sprintf("0%o", v))
		return nil
	}
	*m = composeFileMode(n.Value)
	return nil
}

// composeNetRef attaches a service to a network.
type composeNetRef struct {
	// Aliases are extra DNS names of the service on the network.
	Aliases []string `yaml:"aliases,omitempty"`
}

// composeDeploy is a service's deploy section.
type composeDeploy struct {
	// Mode is replicated, global, replicated-job or global-job.
	Mode string `yaml:"mode,omitempty"`
	// Replicas of a replicated service, or total completions of a replicated job.
	Replicas *uint64 `yaml:"replicas,omitempty"`
	// EndpointMode is vip or dnsrr.
	EndpointMode string `yaml:"endpoint_mode,omitempty"`
	// Labels on the service, without Kargo's bookkeeping labels.
	Labels map[string]string `yaml:"labels,omitempty"`
	// Placement constrains and spreads the tasks over nodes.
	Placement *composePlacement `yaml:"placement,omitempty"`
	// Resources are CPU and memory limits and reservations.
	Resources *composeResources `yaml:"resources,omitempty"`
	// RestartPolicy says when Swarm restarts a task that exited.
	RestartPolicy *composeRestart `yaml:"restart_policy,omitempty"`
	// UpdateConfig says how Swarm replaces tasks on an update.
	UpdateConfig *composeUpdate `yaml:"update_config,omitempty"`
	// RollbackConfig says how Swarm rolls a failed update back.
	RollbackConfig *composeUpdate `yaml:"rollback_config,omitempty"`
}

// composePlacement is deploy.placement.
type composePlacement struct {
	// Constraints in Swarm syntax, e.g. "node.role==manager".
	Constraints []string `yaml:"constraints,omitempty"`
	// Preferences are {"spread": "node.labels.<label>"} entries.
	Preferences []map[string]string `yaml:"preferences,omitempty"`
	// MaxReplicasPerNode limits tasks of the service on one node (0 = no limit).
	MaxReplicasPerNode uint64 `yaml:"max_replicas_per_node,omitempty"`
}

// composeResources is deploy.resources.
type composeResources struct {
	// Limits are the most a task may use.
	Limits *composeResource `yaml:"limits,omitempty"`
	// Reservations are what a node must have free to run a task.
	Reservations *composeResource `yaml:"reservations,omitempty"`
}

// composeResource is a CPU and memory amount.
type composeResource struct {
	// CPUs in cores, e.g. "0.5".
	CPUs string `yaml:"cpus,omitempty"`
	// Memory in bytes, e.g. "536870912b".
	Memory string `yaml:"memory,omitempty"`
}

// composeRestart is deploy.restart_policy.
type composeRestart struct {
	// Condition is none, on-failure or any.
	Condition string `yaml:"condition,omitempty"`
	// Delay between restart attempts, as a Go duration.
	Delay string `yaml:"delay,omitempty"`
	// MaxAttempts is how many times a task is restarted; nil = no limit.
	MaxAttempts *uint64 `yaml:"max_attempts,omitempty"`
	// Window over which restart attempts are counted, as a Go duration.
	Window string `yaml:"window,omitempty"`
}

// composeUpdate is deploy.update_config or rollback_config.
type composeUpdate struct {
	// Parallelism is how many tasks are replaced at a time (0 = all at once).
	Parallelism *uint64 `yaml:"parallelism,omitempty"`
	// Delay between batches, as a Go duration.
	Delay string `yaml:"delay,omitempty"`
	// FailureAction is rollback, pause or continue.
	FailureAction string `yaml:"failure_action,omitempty"`
	// Monitor is how long a new task is watched for failure, as a Go duration.
	Monitor string `yaml:"monitor,omitempty"`
	// MaxFailureRatio of tasks that may fail during the update.
	MaxFailureRatio float32 `yaml:"max_failure_ratio,omitempty"`
	// Order is start-first or stop-first.
	Order string `yaml:"order,omitempty"`
}

// toCompose converts the desired objects into a compose file for `docker stack deploy -c`,
// with the stack name as the namespace. Networks and volumes get no explicit name, so
// docker stack deploy names them <stack>_<key> under whatever stack name it is given;
// secrets and configs keep their versioned names (Swarm cannot update them; WriteCompose
// picks the versions of secrets). Secret and config contents are not part of it: they
// are referenced as files under dir (secrets/<name>, configs/<name>), which WriteCompose
// writes. Kargo's bookkeeping labels are left out, so a stack deployed this way shows as
// "not applied by kargo" in a plan.
func toCompose(d *Desired) *composeFile {
	c := &composeFile{Version: "3.8", Services: map[string]composeService{}}
	netKey := map[string]string{}
	for _, n := range d.Networks {
		netKey[n.Name] = n.Logical
		if c.Networks == nil {
			c.Networks = map[string]composeObject{}
		}
		if n.External {
			c.Networks[n.Logical] = composeObject{Name: n.Name, External: true}
			continue
		}
		c.Networks[n.Logical] = composeObject{Driver: n.Options.Driver, Attachable: n.Options.Attachable,
			Internal: n.Options.Internal, Labels: userLabels(n.Options.Labels)}
	}
	volKey := map[string]string{}
	for _, v := range d.Volumes {
		volKey[v.Name] = v.Logical
		if c.Volumes == nil {
			c.Volumes = map[string]composeObject{}
		}
		if v.External {
			c.Volumes[v.Logical] = composeObject{Name: v.Name, External: true}
			continue
		}
		c.Volumes[v.Logical] = composeObject{Driver: v.Options.Driver, DriverOpts: v.Options.DriverOpts,
			Labels: userLabels(v.Options.Labels)}
	}
	secKey := map[string]string{}
	for _, s := range d.Secrets {
		secKey[s.Name] = s.Logical
		if c.Secrets == nil {
			c.Secrets = map[string]composeObject{}
		}
		if s.External {
			c.Secrets[s.Logical] = composeObject{Name: s.Name, External: true}
			continue
		}
		c.Secrets[s.Logical] = composeObject{Name: s.Name, File: "./secrets/" + s.Logical, Labels: userLabels(s.Spec.Labels)}
	}
	cfgKey := map[string]string{}
	for _, x := range d.Configs {
		cfgKey[x.Name] = x.Logical
		if c.Configs == nil {
			c.Configs = map[string]composeObject{}
		}
		if x.External {
			c.Configs[x.Logical] = composeObject{Name: x.Name, External: true}
			continue
		}
		c.Configs[x.Logical] = composeObject{Name: x.Name, File: "./configs/" + x.Logical, Labels: userLabels(x.Spec.Labels)}
	}
	for _, s := range d.Services {
		c.Services[s.Logical] = serviceToCompose(s.Spec, netKey, volKey, secKey, cfgKey)
	}
	return c
}

func serviceToCompose(spec swarm.ServiceSpec, netKey, volKey, secKey, cfgKey map[string]string) composeService {
	cs := spec.TaskTemplate.ContainerSpec
	out := composeService{
		Image: cs.Image, Entrypoint: cs.Command, Command: cs.Args, Environment: cs.Env,
		WorkingDir: cs.Dir, User: cs.User, Hostname: cs.Hostname, Labels: userLabels(cs.Labels),
	}
	if cs.StopGracePeriod != nil {
		out.StopGracePeriod = dur(*cs.StopGracePeriod)
	}
	if h := cs.Healthcheck; h != nil {
		out.Healthcheck = &composeHealth{Test: h.Test, Interval: dur(h.Interval), Timeout: dur(h.Timeout),
			Retries: h.Retries, StartPeriod: dur(h.StartPeriod)}
	}
	if ep := spec.EndpointSpec; ep != nil {
		out.Deploy.EndpointMode = string(ep.Mode)
		for _, p := range ep.Ports {
			out.Ports = append(out.Ports, composePort{Target: p.TargetPort, Published: p.PublishedPort,
				Protocol: string(p.Protocol), Mode: string(p.PublishMode)})
		}
	}
	for _, m := range cs.Mounts {
		cm := composeMount{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		if k, ok := volKey[m.Source]; ok {
			cm.Source = k
		}
		if m.TmpfsOptions != nil && m.TmpfsOptions.SizeBytes > 0 {
			cm.Tmpfs = map[string]int64{"size": m.TmpfsOptions.SizeBytes}
		}
		out.Volumes = append(out.Volumes, cm)
	}
	for _, r := range cs.Secrets {
		out.Secrets = append(out.Secrets, composeFileRef{Source: secKey[r.SecretName], Target: r.File.Name,
			UID: r.File.UID, GID: r.File.GID, Mode: composeFileMode(fmt.Sprintf("0%o", uint32(r.File.Mode)))})
	}
	for _, r := range cs.Configs {
		out.Configs = append(out.Configs, composeFileRef{Source: cfgKey[r.ConfigName], Target: r.File.Name,
			UID: r.File.UID, GID: r.File.GID, Mode: composeFileMode(fmt.Sprintf("0%o", uint32(r.File.Mode)))})
	}
	for _, n := range spec.TaskTemplate.Networks {
		if out.Networks == nil {
			out.Networks = map[string]composeNetRef{}
		}
		out.Networks[netKey[n.Target]] = composeNetRef{Aliases: without(n.Aliases, spec.Labels[stack.LabelName])}
	}
	dep := &out.Deploy
	dep.Labels = userLabels(spec.Labels)
	switch m := spec.Mode; {
	case m.Global != nil:
		dep.Mode = string(stack.Global)
	case m.GlobalJob != nil:
		dep.Mode = string(stack.GlobalJob)
	case m.ReplicatedJob != nil:
		dep.Mode = string(stack.ReplicatedJob)
		dep.Replicas = m.ReplicatedJob.TotalCompletions
	case m.Replicated != nil:
		dep.Mode = string(stack.Replicated)
		dep.Replicas = m.Replicated.Replicas
	}
	if p := spec.TaskTemplate.Placement; p != nil {
		dep.Placement = &composePlacement{Constraints: p.Constraints, MaxReplicasPerNode: p.MaxReplicas}
		for _, pref := range p.Preferences {
			if pref.Spread != nil {
				dep.Placement.Preferences = append(dep.Placement.Preferences, map[string]string{"spread": pref.Spread.SpreadDescriptor})
			}
		}
	}
	if r := spec.TaskTemplate.Resources; r != nil {
		dep.Resources = &composeResources{}
		if l := r.Limits; l != nil {
			dep.Resources.Limits = &composeResource{CPUs: cpus(l.NanoCPUs), Memory: bytesStr(l.MemoryBytes)}
		}
		if l := r.Reservations; l != nil {
			dep.Resources.Reservations = &composeResource{CPUs: cpus(l.NanoCPUs), Memory: bytesStr(l.MemoryBytes)}
		}
	}
	if rp := spec.TaskTemplate.RestartPolicy; rp != nil {
		dep.RestartPolicy = &composeRestart{Condition: string(rp.Condition), MaxAttempts: rp.MaxAttempts}
		if rp.Delay != nil {
			dep.RestartPolicy.Delay = dur(*rp.Delay)
		}
		if rp.Window != nil {
			dep.RestartPolicy.Window = dur(*rp.Window)
		}
	}
	dep.UpdateConfig = updateToCompose(spec.UpdateConfig)
	dep.RollbackConfig = updateToCompose(spec.RollbackConfig)
	return out
}

func updateToCompose(u *swarm.UpdateConfig) *composeUpdate {
	if u == nil {
		return nil
	}
	return &composeUpdate{Parallelism: ptr(u.Parallelism), Delay: dur(u.Delay), FailureAction: string(u.FailureAction),
		Monitor: dur(u.Monitor), MaxFailureRatio: u.MaxFailureRatio, Order: string(u.Order)}
}

// userLabels drops the labels docker stack deploy sets itself and Kargo's bookkeeping.
func userLabels(l map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		if k == stack.LabelNamespace || k == stack.LabelHash || k == stack.LabelLastApplied {
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

func dur(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func cpus(nano int64) string {
	if nano == 0 {
		return ""
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", float64(nano)/1e9), "0"), ".")
}

func bytesStr(b int64) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%db", b)
}

// ComposeYAML returns the compose file (version 3.8) of the desired objects, with versioned
// secrets named as Render names them. It writes nothing: WriteCompose is the export to deploy
// (it names versioned secrets for docker stack deploy and writes the ./secrets/<name> and
// ./configs/<name> files the compose file refers to).
func ComposeYAML(d *Desired) ([]byte, error) { return marshalCompose(toCompose(d)) }

// marshalCompose returns the compose file as YAML. Every value is meant literally, so each
// `$` is written `$$`: docker stack deploy interpolates the whole file, and would otherwise
// turn a health check's `c=$(curl ...)` into `c=(curl ...)` or expand `$c` to nothing.
func marshalCompose(c *composeFile) ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(c); err != nil {
		return nil, err
	}
	escapeDollars(&n)
	return yaml.Marshal(&n)
}

// escapeDollars doubles every `$` in the string values of a YAML tree (mapping keys are not
// interpolated and stay as they are).
func escapeDollars(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			escapeDollars(c)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			escapeDollars(n.Content[i])
		}
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			n.Value = strings.ReplaceAll(n.Value, "$", "$$")
		}
	}
}

// WriteCompose writes docker-compose.yml into dir with the content of every secret and config
// beside it (secrets/<name> with mode 0600 in a 0700 directory, configs/<name>), and returns the
// compose file's path. Generated secrets get a fresh random value, since their content exists
// only in the Swarm. Files that exist already are overwritten and given these modes too (a
// secret left 0644 by an older export becomes 0600); a symbolic link in place of a file or of
// the secrets and configs directories is refused, never followed, so an export cannot be made
// to write a secret somewhere else.
//
// Versioned secrets (see LabelDigest) get a random version in the compose file, since it
// cannot ask the engine which versions exist: the one of the previous export in dir when the
// secret file it wrote holds the same content (so deploying an unchanged export again changes
// nothing), a new one otherwise (so `docker stack deploy` creates a new secret rather than
// failing to update an immutable one). Content made with randomness, such as the gateway's
// password hash, gets a new version on every export.
func WriteCompose(d *Desired, dir string) (string, error) {
	c := toCompose(d)
	prev := previousSecretNames(dir)
	for _, s := range d.Secrets {
		if !s.Versioned {
			continue
		}
		o := c.Secrets[s.Logical]
		o.Name = ""
		if old := prev[s.Logical]; strings.HasPrefix(old, d.Stack+"_"+s.Logical+"_") {
			p := filepath.Join(dir, "secrets", s.Logical)
			if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
				if b, err := os.ReadFile(p); err == nil && subtle.ConstantTimeCompare(b, s.Spec.Data) == 1 {
					o.Name = old
				}
			}
		}
		if o.Name == "" {
			o.Name = d.Stack + "_" + s.Logical + "_" + randomHex(stack.VersionHashLen/2)
		}
		c.Secrets[s.Logical] = o
	}
	for _, s := range d.Secrets {
		if s.External {
			continue
		}
		data := s.Spec.Data
		if s.Generate > 0 {
			data = []byte(randomString(s.Generate))
		}
		if err := writeExport(dir, "secrets", s.Logical, data, 0o700, 0o600); err != nil {
			return "", fmt.Errorf("stack %q: secret %q: %w", d.Stack, s.Logical, err)
		}
	}
	for _, x := range d.Configs {
		if x.External {
			continue
		}
		if err := writeExport(dir, "configs", x.Logical, x.Spec.Data, 0, 0o644); err != nil {
			return "", fmt.Errorf("stack %q: config %q: %w", d.Stack, x.Logical, err)
		}
	}
	b, err := marshalCompose(c)
	if err != nil {
		return "", fmt.Errorf("stack %q: compose: %w", d.Stack, err)
	}
	file := filepath.Join(dir, "docker-compose.yml")
	if err := writeNoFollow(file, b, 0o644); err != nil {
		return "", fmt.Errorf("stack %q: compose: %w", d.Stack, err)
	}
	return file, nil
}

// previousSecretNames returns the Swarm names of the secrets of the compose file a previous
// export left in dir, by key (none when there is no readable one).
func previousSecretNames(dir string) map[string]string {
	out := map[string]string{}
	p := filepath.Join(dir, "docker-compose.yml")
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
		return out
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return out
	}
	var prev composeFile
	if yaml.Unmarshal(b, &prev) != nil {
		return out
	}
	for k, o := range prev.Secrets {
		out[k] = o.Name
	}
	return out
}

// randomHex returns 2n random lowercase hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("kargo: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// writeExport writes dir/sub/name with mode perm, sub being a directory of mode dirPerm (0:
// created 0700, an existing one kept as it is).
func writeExport(dir, sub, name string, data []byte, dirPerm, perm os.FileMode) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sd := filepath.Join(dir, sub)
	fi, err := os.Lstat(sd)
	switch {
	case os.IsNotExist(err):
		if err := os.Mkdir(sd, 0o700); err != nil {
			return err
		}
	case err != nil:
		return err
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: refusing to write through it", sd)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", sd)
	}
	// An existing directory keeps its mode unless told otherwise.
	if dirPerm != 0 {
		if err := os.Chmod(sd, dirPerm); err != nil {
			return err
		}
	}
	return writeNoFollow(filepath.Join(sd, name), data, perm)
}

// writeNoFollow writes a file with mode perm, also when it exists with another mode, and
// refuses a symbolic link in its place.
func writeNoFollow(p string, data []byte, perm os.FileMode) error {
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link: refusing to write through it", p)
	} else if err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	// O_NOFOLLOW closes the window between the check and the open.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|oNoFollow, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Package swarmx turns a stack.Stack into Docker Swarm objects and applies them.
//
// Render is pure: from a Stack and a Source (the deploy program's environment, files and the
// images it can build, given as functions) it computes the desired Swarm specs, each carrying the namespace label
// com.docker.stack.namespace (so `docker stack ls/ps/services/rm` see Kargo stacks) and a hash
// of its desired spec (so a plan needs no state file). The Applier compares those with what runs
// and performs the difference through a small Client interface over the moby client.
package swarmx

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Size limits of Swarm objects (swarmkit's MaxSecretSize and MaxConfigSize): Render refuses
// bigger content before anything is applied.
const (
	MaxSecretSize = 500 * 1024
	MaxConfigSize = 1000 * 1024
)

// Desired is everything a stack asks of a Swarm, ready for the Engine API.
type Desired struct {
	// Stack is the name of the stack.
	Stack string
	// Networks of the stack, external ones included.
	Networks []Network
	// Volumes declared by the stack or used by a mount, sorted by Swarm name.
	Volumes []Volume
	// Secrets of the stack, external ones included.
	Secrets []Secret
	// Configs of the stack, external ones included.
	Configs []Config
	// Services in the order the stack lists them.
	Services []Service
	// Nodes are the node labels the stack keeps (stack.Stack.Nodes); empty for most stacks.
	Nodes []stack.NodeLabels `json:",omitempty"`
}

// Network is a desired network.
type Network struct {
	// Name is the Swarm name (<stack>_<name>, or the name itself when external).
	Name string
	// Logical is the name within the stack.
	Logical string
	// External networks must exist; Kargo neither creates nor removes them.
	External bool
	// Options create the network, labels included.
	Options client.NetworkCreateOptions
	// Hash of the options, stored in the network's stack.LabelHash label.
	Hash string
}

// Volume is a desired named volume.
type Volume struct {
	// Name is the Docker name (<stack>_<name>, or the name itself when external).
	Name string
	// Logical is the name within the stack.
	Logical string
	// External volumes must exist; Kargo neither creates nor removes them.
	External bool
	// Options create the volume, labels included.
	Options client.VolumeCreateOptions
}

// Secret is a desired secret. Its Swarm name carries a version, so changed content makes a
// new object (Swarm secrets are immutable) and services are re-pointed; the version says
// nothing about the content (see LabelDigest). Generated secrets keep a fixed name and are
// created once.
type Secret struct {
	// Name is the Swarm name: <stack>_<name>_v<N> (Render says v1; Plan and Apply the existing
	// version with the same content, or the next one), <stack>_<name> when generated, or the
	// name itself when external.
	Name string
	// Logical is the name within the stack.
	Logical string
	// External secrets must exist; Kargo neither creates nor removes them.
	External bool
	// Generate is the length of a secret the Applier generates when it does not exist yet.
	Generate int
	// Spec creates the secret; its Data is empty for generated and external secrets.
	Spec swarm.SecretSpec
	// Versioned secrets (given by Data, File or Env) are named by version (see LabelDigest).
	Versioned bool
	// Fingerprint is what a versioned secret's digest is computed over: the content, or
	// stack.Secret.Identity. Never printed: JSON leaves it out and Redacted drops it.
	Fingerprint []byte `json:"-"`
}

// Config is a desired config, named like secrets: <stack>_<name>_<content hash>.
type Config struct {
	// Name is the Swarm name: <stack>_<name>_<content hash>, or the name itself when external.
	Name string
	// Logical is the name within the stack.
	Logical string
	// External configs must exist; Kargo neither creates nor removes them.
	External bool
	// Spec creates the config.
	Spec swarm.ConfigSpec
}

// Service is a desired service.
type Service struct {
	// Name is the Swarm name, <stack>_<name>.
	Name string
	// Logical is the name within the stack.
	Logical string
	// Spec is complete except for the IDs of secret and config references, which the
	// Applier resolves from their names.
	Spec swarm.ServiceSpec
	// Hash of the desired spec, stored in the service's stack.LabelHash label.
	Hash string
	// DependsOn are the logical names of the services this one needs (see
	// stack.Service.DependsOn for the order Apply keeps).
	DependsOn []string
	// Endpoints the service exposes, for readiness checks.
	Endpoints []stack.Endpoint
	// Schedule is the cron schedule of a scheduled job; empty otherwise.
	Schedule string
}

// Replicas returns the desired number of replicas (or completions for jobs); 0 for global modes.
func (s Service) Replicas() uint64 {
	switch m := s.Spec.Mode; {
	case m.Replicated != nil && m.Replicated.Replicas != nil:
		return *m.Replicated.Replicas
	case m.ReplicatedJob != nil && m.ReplicatedJob.TotalCompletions != nil:
		return *m.ReplicatedJob.TotalCompletions
	}
	return 0
}

// IsJob reports whether the service runs to completion.
func (s Service) IsJob() bool {
	return s.Spec.Mode.ReplicatedJob != nil || s.Spec.Mode.GlobalJob != nil
}

// Env returns the container environment as a map.
func (s Service) Env() map[string]string {
	m := map[string]string{}
	for _, kv := range s.Spec.TaskTemplate.ContainerSpec.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// Service returns the desired service with the given logical name.
func (d *Desired) Service(name string) (Service, bool) {
	for _, s := range d.Services {
		if s.Logical == name {
			return s, true
		}
	}
	return Service{}, false
}

// Source gives Render what lies outside the stack value: the deploy program's environment
// and files (for secrets and configs given by env var or path) and the versions of the
// images it can build. Tests pass fakes; the zero value uses the process environment, the
// file system and the images package's registry.
type Source struct {
	// LookupEnv looks an environment variable up; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ReadFile reads a file; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// Image looks up an image Kargo builds (its build context's version labels the
	// containers using it; it is pulled from the stack's Registry); nil means images.Lookup.
	Image func(ref string) (images.Image, bool)
}

func (src Source) lookupEnv(k string) (string, bool) {
	if src.LookupEnv != nil {
		return src.LookupEnv(k)
	}
	return os.LookupEnv(k)
}

func (src Source) image(ref string) (images.Image, bool) {
	if src.Image != nil {
		return src.Image(ref)
	}
	return images.Lookup(ref)
}

func (src Source) readFile(p string) ([]byte, error) {
	if src.ReadFile != nil {
		return src.ReadFile(p)
	}
	return os.ReadFile(p)
}

// RenderError is a problem found while rendering (a secret file that cannot be read, an env
// var that is not set). It names the stack and the object.
type RenderError struct {
	// Stack is the name of the stack.
	Stack string
	// Path of the object, e.g. "secrets[db-password].file".
	Path string
	// Err is what went wrong.
	Err error
}

// Error names the stack, the object and what went wrong.
func (e *RenderError) Error() string {
	return fmt.Sprintf("stack %q: %s: %v", e.Stack, e.Path, e.Err)
}

// Unwrap returns Err.
func (e *RenderError) Unwrap() error { return e.Err }

// Render normalises the stack (stack.Normalize: its defaults, then validation) and computes
// the desired Swarm objects. It reads nothing but what src provides and talks to no engine.
func Render(st *stack.Stack, src Source) (*Desired, error) {
	s, err := st.Normalize()
	if err != nil {
		return nil, err
	}
	d := &Desired{Stack: s.Name, Nodes: s.Nodes}
	r := renderer{stack: s, src: src, labels: baseLabels(s)}

	netNames := map[string]string{}
	for _, n := range s.AllNetworks() {
		dn := r.network(n)
		netNames[n.Name] = dn.Name
		d.Networks = append(d.Networks, dn)
	}
	volNames := map[string]Volume{}
	declared := map[string]bool{}
	for _, v := range s.AllVolumes() {
		dv := r.volume(v)
		volNames[v.Name] = dv
		declared[v.Name] = true
		d.Volumes = append(d.Volumes, dv)
	}
	// Volumes used by mounts but not declared are created with the local driver.
	for _, svc := range s.Services {
		for _, m := range svc.Mounts {
			if m.Type == stack.VolumeMount && !declared[m.Source] {
				declared[m.Source] = true
				dv := r.volume(stack.Volume{Name: m.Source, Driver: "local"})
				volNames[m.Source] = dv
				d.Volumes = append(d.Volumes, dv)
			}
		}
	}
	sort.Slice(d.Volumes, func(i, j int) bool { return d.Volumes[i].Name < d.Volumes[j].Name })

	secNames := map[string]string{}
	for _, sec := range s.AllSecrets() {
		ds, err := r.secret(sec)
		if err != nil {
			return nil, err
		}
		secNames[sec.Name] = ds.Name
		d.Secrets = append(d.Secrets, ds)
	}
	cfgNames := map[string]string{}
	configs := s.AllConfigs()
	// Contents first, each file read once: a derived config is made from another's content.
	contents := map[string][]byte{}
	for _, c := range configs {
		if c.External || c.Derive != nil {
			continue
		}
		data, err := r.content("config", c.Name, c.Data, c.File, "")
		if err != nil {
			return nil, err
		}
		contents[c.Name] = data
	}
	for _, c := range configs {
		dc, err := r.config(c, contents)
		if err != nil {
			return nil, err
		}
		cfgNames[c.Name] = dc.Name
		d.Configs = append(d.Configs, dc)
	}
	for _, svc := range s.Services {
		d.Services = append(d.Services, r.service(svc, netNames, volNames, secNames, cfgNames))
	}
	return d, nil
}

type renderer struct {
	stack  *stack.Stack
	src    Source
	labels map[string]string
}

func baseLabels(s *stack.Stack) map[string]string {
	l := map[string]string{}
	for k, v := range s.Labels {
		l[k] = v
	}
	l[stack.LabelNamespace] = s.Name
	return l
}

func (r renderer) scoped(name string) string { return r.stack.Name + "_" + name }

func (r renderer) objectLabels(logical string, extra map[string]string) map[string]string {
	l := merge(r.labels, extra)
	l[stack.LabelName] = logical
	return l
}

func (r renderer) network(n stack.Network) Network {
	if n.External {
		return Network{Name: n.Name, Logical: n.Name, External: true}
	}
	opts := client.NetworkCreateOptions{
		Driver:     n.Driver,
		Scope:      "swarm",
		Internal:   n.Internal,
		Attachable: n.Attachable != nil && *n.Attachable,
		Labels:     r.objectLabels(n.Name, n.Labels),
	}
	h := hashJSON(opts)
	opts.Labels[stack.LabelHash] = h
	return Network{Name: r.scoped(n.Name), Logical: n.Name, Options: opts, Hash: h}
}

func (r renderer) volume(v stack.Volume) Volume {
	if v.External {
		return Volume{Name: v.Name, Logical: v.Name, External: true}
	}
	name := r.scoped(v.Name)
	return Volume{Name: name, Logical: v.Name, Options: client.VolumeCreateOptions{
		Name: name, Driver: v.Driver, DriverOpts: v.DriverOpts, Labels: r.objectLabels(v.Name, v.Labels),
	}}
}

func (r renderer) content(kind, name string, data []byte, file, env string) ([]byte, error) {
	switch {
	case data != nil:
		return data, nil
	case file != "":
		b, err := r.src.readFile(file)
		if err != nil {
			return nil, &RenderError{Stack: r.stack.Name, Path: kind + "s[" + name + "].file", Err: err}
		}
		return b, nil
	case env != "":
		v, ok := r.src.lookupEnv(env)
		if !ok {
			return nil, &RenderError{Stack: r.stack.Name, Path: kind + "s[" + name + "].env",
				Err: fmt.Errorf("environment variable %s is not set", env)}
		}
		return []byte(v), nil
	}
	return nil, nil
}

func (r renderer) secret(sec stack.Secret) (Secret, error) {
	if sec.External {
		return Secret{Name: sec.Name, Logical: sec.Name, External: true}, nil
	}
	if sec.Generate > 0 {
		name := r.scoped(sec.Name)
		l := r.objectLabels(sec.Name, sec.Labels)
		l[stack.LabelGenerated] = fmt.Sprint(sec.Generate)
		return Secret{Name: name, Logical: sec.Name, Generate: sec.Generate,
			Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: l}}}, nil
	}
	data, err := r.content("secret", sec.Name, sec.Data, sec.File, sec.Env)
	if err != nil {
		return Secret{}, err
	}
	if len(data) > MaxSecretSize {
		return Secret{}, &RenderError{Stack: r.stack.Name, Path: "secrets[" + sec.Name + "]",
			Err: fmt.Errorf("%d bytes: Swarm limits a secret to %d", len(data), MaxSecretSize)}
	}
	// The name carries a version that says nothing about the value; Plan and Apply pick the
	// existing version with the same content, or the next one (see LabelDigest).
	fp := data
	if sec.Identity != nil {
		fp = sec.Identity
	}
	name := versionedName(r.stack.Name, sec.Name, 1)
	return Secret{Name: name, Logical: sec.Name, Versioned: true, Fingerprint: fp, Spec: swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: name, Labels: r.objectLabels(sec.Name, sec.Labels)},
		Data:        data,
	}}, nil
}

func (r renderer) config(c stack.Config, contents map[string][]byte) (Config, error) {
	if c.External {
		return Config{Name: c.Name, Logical: c.Name, External: true}, nil
	}
	data := contents[c.Name]
	if d := c.Derive; d != nil {
		from, ok := contents[d.From]
		if !ok {
			return Config{}, &RenderError{Stack: r.stack.Name, Path: "configs[" + c.Name + "].derive",
				Err: fmt.Errorf("config %q is not a config of the stack with content", d.From)}
		}
		var err error
		if data, err = d.Make(from); err != nil {
			return Config{}, &RenderError{Stack: r.stack.Name, Path: "configs[" + c.Name + "].derive", Err: err}
		}
	}
	if len(data) > MaxConfigSize {
		return Config{}, &RenderError{Stack: r.stack.Name, Path: "configs[" + c.Name + "]",
			Err: fmt.Errorf("%d bytes: Swarm limits a config to %d (ship large data in a volume or an image)", len(data), MaxConfigSize)}
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	name := r.scoped(c.Name) + "_" + h[:stack.VersionHashLen]
	l := r.objectLabels(c.Name, c.Labels)
	l[stack.LabelHash] = h
	return Config{Name: name, Logical: c.Name, Spec: swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: name, Labels: l},
		Data:        data,
	}}, nil
}

func (r renderer) service(svc *stack.Service, nets map[string]string, vols map[string]Volume, secs, cfgs map[string]string) Service {
	name := r.scoped(svc.Name)
	cs := &swarm.ContainerSpec{
		Image:    r.imageRef(svc.Image),
		Labels:   merge(svc.ContainerLabels, map[string]string{stack.LabelNamespace: r.stack.Name}, r.imageVersion(svc.Image)),
		Command:  svc.Command,
		Args:     svc.Args,
		Hostname: svc.Hostname,
		Env:      envList(svc.Env),
		Dir:      svc.WorkDir,
		User:     svc.User,
	}
	if svc.StopGracePeriod > 0 {
		cs.StopGracePeriod = ptr(svc.StopGracePeriod)
	}
	for _, m := range svc.Mounts {
		mm := mount.Mount{Type: mount.Type(m.Type), Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case stack.VolumeMount:
			// Like docker stack, volumes are created by the engine of the node a task lands on,
			// from these options; the Applier does not create them on the manager.
			v := vols[m.Source]
			mm.Source = v.Name
			if !v.External {
				mm.VolumeOptions = &mount.VolumeOptions{Labels: v.Options.Labels}
				if v.Options.Driver != "local" || len(v.Options.DriverOpts) > 0 {
					mm.VolumeOptions.DriverConfig = &mount.Driver{Name: v.Options.Driver, Options: v.Options.DriverOpts}
				}
			}
		case stack.BindMount:
			mm.Source = m.Source
		case stack.TmpfsMount:
			if m.TmpfsSize > 0 {
				mm.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: m.TmpfsSize}
			}
		}
		cs.Mounts = append(cs.Mounts, mm)
	}
	if h := svc.Health; h != nil {
		cs.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	for _, ref := range svc.Secrets {
		// A relative target lands under /run/secrets; Swarm takes absolute targets as they are.
		target := ref.Target
		cs.Secrets = append(cs.Secrets, &swarm.SecretReference{
			SecretName: secs[ref.Source],
			File:       &swarm.SecretReferenceFileTarget{Name: target, UID: ref.UID, GID: ref.GID, Mode: os.FileMode(ref.Mode)},
		})
	}
	for _, ref := range svc.Configs {
		cs.Configs = append(cs.Configs, &swarm.ConfigReference{
			ConfigName: cfgs[ref.Source],
			File:       &swarm.ConfigReferenceFileTarget{Name: ref.Target, UID: ref.UID, GID: ref.GID, Mode: os.FileMode(ref.Mode)},
		})
	}

	task := swarm.TaskSpec{ContainerSpec: cs}
	if res := svc.Resources; res != (stack.Resources{}) {
		task.Resources = &swarm.ResourceRequirements{}
		if res.CPULimit > 0 || res.MemoryLimit > 0 {
			task.Resources.Limits = &swarm.Limit{NanoCPUs: nanoCPUs(res.CPULimit), MemoryBytes: res.MemoryLimit}
		}
		if res.CPUReservation > 0 || res.MemoryReservation > 0 {
			task.Resources.Reservations = &swarm.Resources{NanoCPUs: nanoCPUs(res.CPUReservation), MemoryBytes: res.MemoryReservation}
		}
	}
	if p := svc.Placement; len(p.Constraints) > 0 || len(p.Spread) > 0 || p.MaxReplicasPerNode > 0 {
		task.Placement = &swarm.Placement{Constraints: p.Constraints, MaxReplicas: p.MaxReplicasPerNode}
		for _, s := range p.Spread {
			task.Placement.Preferences = append(task.Placement.Preferences,
				swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: s}})
		}
	}
	if rp := svc.Restart; rp != nil {
		task.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyCondition(rp.Condition)}
		if rp.Delay > 0 {
			task.RestartPolicy.Delay = ptr(rp.Delay)
		}
		if rp.MaxAttempts > 0 {
			task.RestartPolicy.MaxAttempts = ptr(rp.MaxAttempts)
		}
		if rp.Window > 0 {
			task.RestartPolicy.Window = ptr(rp.Window)
		}
	}
	aliases := append([]string{svc.Name}, svc.Aliases...)
	for _, n := range svc.Networks {
		task.Networks = append(task.Networks, swarm.NetworkAttachmentConfig{Target: nets[n], Aliases: aliases})
	}

	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: name, Labels: r.objectLabels(svc.Name, svc.Labels)},
		TaskTemplate: task,
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionMode(svc.EndpointMode)},
	}
	for _, p := range svc.Ports {
		spec.EndpointSpec.Ports = append(spec.EndpointSpec.Ports, swarm.PortConfig{
			Protocol: portProtocol(p.Protocol), TargetPort: p.Target, PublishedPort: p.Published,
			PublishMode: swarm.PortConfigPublishMode(p.Mode),
		})
	}
	switch svc.Mode {
	case stack.Global:
		spec.Mode.Global = &swarm.GlobalService{}
	case stack.GlobalJob:
		spec.Mode.GlobalJob = &swarm.GlobalJob{}
	case stack.ReplicatedJob:
		spec.Mode.ReplicatedJob = &swarm.ReplicatedJob{TotalCompletions: ptr(*svc.Replicas)}
		if svc.MaxConcurrent > 0 {
			spec.Mode.ReplicatedJob.MaxConcurrent = ptr(svc.MaxConcurrent)
		} else {
			spec.Mode.ReplicatedJob.MaxConcurrent = ptr(*svc.Replicas)
		}
	default:
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: ptr(*svc.Replicas)}
	}
	if !svc.Mode.IsJob() {
		spec.UpdateConfig = updateConfig(svc.Update)
		spec.RollbackConfig = updateConfig(svc.Rollback)
	}
	if svc.Schedule != "" {
		spec.Labels[stack.LabelSchedule] = svc.Schedule
	}

	h, last := specHash(spec)
	spec.Labels[stack.LabelHash] = h
	spec.Labels[stack.LabelLastApplied] = last
	return Service{Name: name, Logical: svc.Name, Spec: spec, Hash: h,
		DependsOn: append([]string(nil), svc.DependsOn...), Endpoints: svc.Endpoints, Schedule: svc.Schedule}
}

// imageRef is the reference the service's containers run: ref, or its copy in the stack's
// registry for an image Kargo builds.
func (r renderer) imageRef(ref string) string {
	_, built := r.src.image(ref)
	return images.RegistryRef(r.stack.Registry, ref, built)
}

// imageVersion labels the containers of a Kargo image with the version of its build context.
func (r renderer) imageVersion(ref string) map[string]string {
	if img, _ := r.src.image(ref); img.Version != "" {
		v := img.Version
		if len(v) > 16 {
			v = v[:16]
		}
		return map[string]string{stack.LabelImageVersion: v}
	}
	return nil
}

func updateConfig(u *stack.UpdatePolicy) *swarm.UpdateConfig {
	if u == nil {
		return nil
	}
	return &swarm.UpdateConfig{
		Parallelism: u.Parallelism, Delay: u.Delay, FailureAction: swarm.FailureAction(u.FailureAction),
		Monitor: u.Monitor, MaxFailureRatio: u.MaxFailureRatio, Order: swarm.UpdateOrder(u.Order),
	}
}

func portProtocol(p string) network.IPProtocol {
	if p == "" {
		return network.TCP
	}
	return network.IPProtocol(p)
}

// specHash returns the hash of a service spec (without Kargo's own bookkeeping labels) and
// the encoded spec for stack.LabelLastApplied.
func specHash(spec swarm.ServiceSpec) (hash, lastApplied string) {
	b := canonicalSpec(spec)
	sum := sha256.Sum256(b)
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	zw.Write(b)
	zw.Close()
	gzipWriters.Put(zw)
	return hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(buf.Bytes())
}

// gzipWriters reuses compressors: each holds about a megabyte of tables, which made
// rendering allocate that much per service.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestCompression)
	return zw
}}

// canonicalSpec is the JSON of a spec without the labels Kargo manages itself.
func canonicalSpec(spec swarm.ServiceSpec) []byte {
	spec.Labels = withoutBookkeeping(spec.Labels)
	b, _ := json.Marshal(spec)
	return b
}

func withoutBookkeeping(l map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		if k == stack.LabelHash || k == stack.LabelLastApplied || strings.HasPrefix(k, stack.LabelRunPrefix) {
			continue
		}
		out[k] = v
	}
	return out
}

// DecodeLastApplied decodes a stack.LabelLastApplied value back into the spec it was made from.
func DecodeLastApplied(v string) (swarm.ServiceSpec, error) {
	var spec swarm.ServiceSpec
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return spec, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return spec, err
	}
	defer zr.Close()
	err = json.NewDecoder(zr).Decode(&spec)
	return spec, err
}

func hashJSON(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func envList(env map[string]string) []string {
	if len(env) == 0 {
		return nil
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func nanoCPUs(cores float64) int64 { return int64(cores * 1e9) }

func ptr[T any](v T) *T { return &v }

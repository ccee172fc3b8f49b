package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/go-playground/validator/v10"
	"github.com/robfig/cron/v3"
)

// Problem is one thing wrong with a stack, at a path such as "services[mapserver].replicas".
type Problem struct {
	// Path locates the problem in the stack, e.g. "services[mapserver].replicas".
	Path string
	// Message says what is wrong.
	Message string
}

// String returns the problem as "path: message".
func (p Problem) String() string { return p.Path + ": " + p.Message }

// ValidationError lists every problem of a stack. Its message names the stack, then one
// problem per line.
type ValidationError struct {
	// Stack is the name of the invalid stack.
	Stack string
	// Problems are every problem found, sorted by path then message.
	Problems []Problem
}

// Error names the stack and the number of problems, then lists one problem per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %q is invalid (%d problem", e.Stack, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Has reports whether a problem was found at the path (exact match).
func (e *ValidationError) Has(path string) bool {
	for _, p := range e.Problems {
		if p.Path == path {
			return true
		}
	}
	return false
}

// CronParser parses Kargo (and Krawler) schedules: 6 fields, seconds first, plus descriptors
// such as @hourly.
var CronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

var (
	// A stack or service name: a DNS label, since services reach each other by name.
	nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	// Object names (networks, volumes, secrets, configs): what Docker accepts.
	objectRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	envRE    = regexp.MustCompile(`^[^=\x00]+$`)
	labelRE  = regexp.MustCompile(`^[^\x00\s]+$`)
	// Swarm limits service names to 63 characters (a DNS label).
	maxServiceName = 63
)

var (
	validateOnce sync.Once
	structCheck  *validator.Validate
)

func checker() *validator.Validate {
	validateOnce.Do(func() {
		v := validator.New(validator.WithRequiredStructEnabled())
		v.RegisterTagNameFunc(func(f reflect.StructField) string { return lowerFirst(f.Name) })
		structCheck = v
	})
	return structCheck
}

// Validate checks the stack after defaults and returns a *ValidationError listing every
// problem, or nil. Field rules come from go-playground/validator tags; cross-field rules
// (names, references, cycles, port clashes, secret sources, schedules) are checked here.
func (s *Stack) Validate() error {
	_, err := s.Normalize()
	return err
}

// Normalize is the one normalisation of a stack: it returns the Defaulted copy of the stack
// once that copy is valid, or the *ValidationError Validate reports. Render works on its result.
func (s *Stack) Normalize() (*Stack, error) {
	if s == nil {
		return nil, &ValidationError{Problems: []Problem{{Path: "stack", Message: "is nil"}}}
	}
	d := s.Defaulted()
	v := &validation{stack: d}
	v.fields()
	v.names()
	v.services()
	v.objects()
	v.dependencies()
	v.ports()
	v.inputs()
	v.cluster()
	if len(v.problems) == 0 {
		return d, nil
	}
	// Sorted by path, then message: problems found while ranging over maps (env, labels)
	// must come out in the same order every time.
	sort.SliceStable(v.problems, func(i, j int) bool {
		a, b := v.problems[i], v.problems[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
	return nil, &ValidationError{Stack: s.Name, Problems: dedup(v.problems)}
}

type validation struct {
	stack    *Stack
	problems []Problem
}

func (v *validation) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func svcPath(svc *Service, i int) string {
	if svc == nil || svc.Name == "" {
		return fmt.Sprintf("services[%d]", i)
	}
	return "services[" + svc.Name + "]"
}

// fields runs the struct-tag rules and rewrites their namespaces into Kargo paths.
func (v *validation) fields() {
	err := checker().Struct(v.stack)
	var fieldErrs validator.ValidationErrors
	if !errors.As(err, &fieldErrs) {
		if err != nil {
			v.add("stack", "%v", err)
		}
		return
	}
	for _, fe := range fieldErrs {
		v.add(v.rewrite(fe.Namespace()), "%s", tagMessage(fe))
	}
}

var (
	indexRE       = regexp.MustCompile(`^services\[(\d+)\](.*)$`)
	objectIndexRE = regexp.MustCompile(`^(networks|volumes|secrets|configs)\[(\d+)\](.*)$`)
)

// rewrite turns "Stack.services[0].mounts[1].target" into "services[db].mounts[1].target"
// and "Stack.secrets[2].generate" into "secrets[pgpass].generate", the paths the cross-field
// rules use.
func (v *validation) rewrite(ns string) string {
	s := v.stack
	ns = strings.TrimPrefix(ns, "Stack.")
	if m := indexRE.FindStringSubmatch(ns); m != nil {
		i, _ := strconv.Atoi(m[1])
		if i >= len(s.Services) {
			return ns
		}
		svc, rest := s.Services[i], m[2]
		if svc != nil && strings.HasPrefix(rest, ".declares.") {
			rest = ".declares." + objectPath(strings.TrimPrefix(rest, ".declares."), svc.Declares)
		}
		return svcPath(svc, i) + rest
	}
	return objectPath(ns, Objects{Networks: s.Networks, Volumes: s.Volumes, Secrets: s.Secrets, Configs: s.Configs})
}

// objectPath names a declared object by its name rather than its index.
func objectPath(p string, o Objects) string {
	m := objectIndexRE.FindStringSubmatch(p)
	if m == nil {
		return p
	}
	i, _ := strconv.Atoi(m[2])
	var names []string
	switch m[1] {
	case "networks":
		for _, x := range o.Networks {
			names = append(names, x.Name)
		}
	case "volumes":
		for _, x := range o.Volumes {
			names = append(names, x.Name)
		}
	case "secrets":
		for _, x := range o.Secrets {
			names = append(names, x.Name)
		}
	case "configs":
		for _, x := range o.Configs {
			names = append(names, x.Name)
		}
	}
	if i >= len(names) {
		return p
	}
	return m[1] + "[" + keyName(names[i], i) + "]" + m[3]
}

func tagMessage(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "oneof":
		return fmt.Sprintf("must be one of %s, got %q", strings.ReplaceAll(fe.Param(), " ", ", "), fmt.Sprint(fe.Value()))
	case "min", "gte":
		return fmt.Sprintf("must be >= %s, got %v", fe.Param(), fe.Value())
	case "max", "lte":
		return fmt.Sprintf("must be <= %s, got %v", fe.Param(), fe.Value())
	case "startswith":
		return fmt.Sprintf("must start with %q, got %q", fe.Param(), fmt.Sprint(fe.Value()))
	default:
		return fmt.Sprintf("fails rule %q (value %v)", fe.Tag(), fe.Value())
	}
}

func (v *validation) names() {
	s := v.stack
	if s.Name != "" && !nameRE.MatchString(s.Name) {
		v.add("name", "%q is not a valid stack name: use lower-case letters, digits and '-', starting and ending with a letter or digit", s.Name)
	}
	v.labels("labels", s.Labels)
	seen := map[string]int{}
	for i, svc := range s.Services {
		if svc == nil {
			v.add(fmt.Sprintf("services[%d]", i), "is nil")
			continue
		}
		if svc.Name == "" {
			continue // reported by the required rule
		}
		p := svcPath(svc, i)
		if !nameRE.MatchString(svc.Name) {
			v.add(p+".name", "%q is not a valid service name: use lower-case letters, digits and '-' (it becomes a DNS name)", svc.Name)
		}
		if full := s.Name + "_" + svc.Name; len(full) > maxServiceName {
			v.add(p+".name", "Swarm name %q is %d characters long, the limit is %d", full, len(full), maxServiceName)
		}
		if j, dup := seen[svc.Name]; dup {
			v.add(p, "service name declared twice (also services at index %d)", j)
		}
		seen[svc.Name] = i
	}
}

func (v *validation) services() {
	s := v.stack
	secrets := nameSet(s.AllSecrets(), func(x Secret) string { return x.Name })
	configs := nameSet(s.AllConfigs(), func(x Config) string { return x.Name })
	networks := nameSet(s.AllNetworks(), func(x Network) string { return x.Name })
	for i, svc := range s.Services {
		if svc == nil {
			continue
		}
		p := svcPath(svc, i)
		if svc.Mode == Global || svc.Mode == GlobalJob {
			if v.rawReplicasSet(i) {
				v.add(p+".replicas", "cannot be set for mode %s", svc.Mode)
			}
			if svc.Placement.MaxReplicasPerNode > 0 {
				v.add(p+".placement.maxReplicasPerNode", "cannot be set for mode %s", svc.Mode)
			}
		}
		for _, bp := range svc.Problems {
			v.add(p+"."+bp.Path, "%s", bp.Message)
		}
		if svc.MaxConcurrent > 0 && svc.Mode != ReplicatedJob {
			v.add(p+".maxConcurrent", "only applies to mode replicated-job, not %s", svc.Mode)
		}
		if svc.Schedule != "" {
			if !svc.Mode.IsJob() {
				v.add(p+".schedule", "a schedule needs a job mode (replicated-job or global-job), not %s", svc.Mode)
			}
			if _, err := CronParser.Parse(svc.Schedule); err != nil {
				v.add(p+".schedule", "invalid 6-field cron schedule %q (seconds first): %v", svc.Schedule, err)
			}
		}
		for k := range svc.Env {
			if !envRE.MatchString(k) {
				v.add(p+".env", "invalid variable name %q", k)
			}
		}
		v.labels(p+".labels", svc.Labels)
		v.labels(p+".containerLabels", svc.ContainerLabels)
		if svc.Image != "" {
			if _, err := reference.ParseNormalizedNamed(svc.Image); err != nil {
				v.add(p+".image", "%q is not a valid image reference: %v", svc.Image, err)
			}
		}
		for j, c := range svc.Placement.Constraints {
			if !constraintRE.MatchString(c) {
				v.add(fmt.Sprintf("%s.placement.constraints[%d]", p, j), "%q is not a constraint: use <attribute>==<value> or <attribute>!=<value>, e.g. node.labels.mapserver==true", c)
			}
		}
		for j, sp := range svc.Placement.Spread {
			if !spreadRE.MatchString(sp) {
				v.add(fmt.Sprintf("%s.placement.spread[%d]", p, j), "%q is not a spread descriptor, e.g. node.labels.zone", sp)
			}
		}
		finite := map[string]float64{".resources.cpuLimit": svc.Resources.CPULimit, ".resources.cpuReservation": svc.Resources.CPUReservation}
		if svc.Update != nil {
			finite[".update.maxFailureRatio"] = float64(svc.Update.MaxFailureRatio)
		}
		if svc.Rollback != nil {
			finite[".rollback.maxFailureRatio"] = float64(svc.Rollback.MaxFailureRatio)
		}
		for field, f := range finite {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				v.add(p+field, "must be a finite number, got %v", f)
			}
		}
		r := svc.Resources
		if r.CPULimit > 0 && r.CPUReservation > r.CPULimit {
			v.add(p+".resources.cpuReservation", "%.3g exceeds the limit %.3g", r.CPUReservation, r.CPULimit)
		}
		if r.MemoryLimit > 0 && r.MemoryReservation > r.MemoryLimit {
			v.add(p+".resources.memoryReservation", "%d exceeds the limit %d", r.MemoryReservation, r.MemoryLimit)
		}
		if r.MemoryLimit > 0 && r.MemoryLimit < 4*MiB {
			v.add(p+".resources.memoryLimit", "%d bytes is below Docker's 4 MiB minimum", r.MemoryLimit)
		}
		targets := map[string]string{}
		claim := func(field, target string) {
			// "/x" and "/x/" are the same file in the container.
			target = path.Clean(target)
			if prev, ok := targets[target]; ok {
				v.add(p+field, "target %q is already used by %s", target, prev)
				return
			}
			targets[target] = p + field
		}
		for j, m := range svc.Mounts {
			mp := fmt.Sprintf("%s.mounts[%d]", p, j)
			switch m.Type {
			case VolumeMount:
				if m.Source == "" {
					v.add(mp+".source", "a volume mount needs a volume name")
				} else if !objectRE.MatchString(m.Source) {
					v.add(mp+".source", "%q is not a valid volume name", m.Source)
				}
			case BindMount:
				if !path.IsAbs(m.Source) {
					v.add(mp+".source", "a bind mount needs an absolute host path, got %q", m.Source)
				}
			case TmpfsMount:
				if m.Source != "" {
					v.add(mp+".source", "must be empty for a tmpfs mount")
				}
			}
			if m.TmpfsSize > 0 && m.Type != TmpfsMount {
				v.add(mp+".tmpfsSize", "only applies to tmpfs mounts")
			}
			claim(fmt.Sprintf(".mounts[%d].target", j), m.Target)
		}
		for j, ref := range svc.Secrets {
			rp := fmt.Sprintf("%s.secrets[%d]", p, j)
			if ref.Source != "" && !secrets[ref.Source] {
				v.add(rp+".source", "secret %q is used but not declared in the stack", ref.Source)
			}
			target := ref.Target
			if !path.IsAbs(target) {
				if strings.Contains(target, "/") {
					v.add(rp+".target", "%q must be a file name under %s or an absolute path", target, strings.TrimSuffix(SecretsDir, "/"))
				}
				target = SecretPath(target)
			}
			claim(fmt.Sprintf(".secrets[%d].target", j), target)
		}
		for j, ref := range svc.Configs {
			rp := fmt.Sprintf("%s.configs[%d]", p, j)
			if ref.Source != "" && !configs[ref.Source] {
				v.add(rp+".source", "config %q is used but not declared in the stack", ref.Source)
			}
			if !path.IsAbs(ref.Target) {
				v.add(rp+".target", "a config needs an absolute target path, got %q", ref.Target)
			} else {
				claim(fmt.Sprintf(".configs[%d].target", j), ref.Target)
			}
		}
		for j, n := range svc.Networks {
			if !networks[n] {
				v.add(fmt.Sprintf("%s.networks[%d]", p, j), "network %q is used but not declared in the stack", n)
			}
		}
		if h := svc.Health; h != nil && len(h.Test) > 0 {
			switch h.Test[0] {
			case "NONE":
			case "CMD", "CMD-SHELL":
				if len(h.Test) < 2 {
					v.add(p+".health.test", "%s needs a command", h.Test[0])
				}
			default:
				v.add(p+".health.test", "must start with CMD, CMD-SHELL or NONE, got %q", h.Test[0])
			}
		}
		if svc.Mode.IsJob() && len(svc.Ports) > 0 {
			v.add(p+".ports", "a job cannot publish ports")
		}
	}
}

// rawReplicasSet reports whether the user (not the defaults) set Replicas.
func (v *validation) rawReplicasSet(i int) bool {
	return v.stack.Services[i].Replicas != nil
}

// objects checks declared networks, volumes, secrets and configs: valid names, one source of
// content each, and no name declared twice with different content.
func (v *validation) objects() {
	s := v.stack
	configNames := nameSet(s.AllConfigs(), func(x Config) string { return x.Name })
	type decl struct {
		path string
		key  string
	}
	check := func(kind, name, path, key string, seen map[string]decl) {
		if name != "" && !objectRE.MatchString(name) {
			v.add(path+".name", "%q is not a valid %s name", name, kind)
		}
		if prev, ok := seen[name]; ok && prev.key != key {
			v.add(path, "%s %q is declared again with a different definition (first at %s)", kind, name, prev.path)
		} else if !ok {
			seen[name] = decl{path, key}
		}
	}
	nets, vols, secs, cfgs := map[string]decl{}, map[string]decl{}, map[string]decl{}, map[string]decl{}
	visit := func(prefix string, o Objects) {
		for i, n := range o.Networks {
			p := fmt.Sprintf("%snetworks[%s]", prefix, keyName(n.Name, i))
			check("network", n.Name, p, jsonKey(n), nets)
			v.labels(p+".labels", n.Labels)
		}
		for i, x := range o.Volumes {
			p := fmt.Sprintf("%svolumes[%s]", prefix, keyName(x.Name, i))
			check("volume", x.Name, p, jsonKey(x), vols)
			v.labels(p+".labels", x.Labels)
		}
		for i, x := range o.Secrets {
			p := fmt.Sprintf("%ssecrets[%s]", prefix, keyName(x.Name, i))
			check("secret", x.Name, p, jsonKey(x), secs)
			v.swarmObjectName("secret", p, x.Name, x.External, x.Generate == 0)
			v.labels(p+".labels", x.Labels)
			sources := 0
			for _, set := range []bool{x.Data != nil, x.File != "", x.Env != "", x.Generate > 0, x.External} {
				if set {
					sources++
				}
			}
			if sources != 1 {
				v.add(p, "needs exactly one of data, file, env, generate or external (has %d)", sources)
			}
		}
		for i, x := range o.Configs {
			p := fmt.Sprintf("%sconfigs[%s]", prefix, keyName(x.Name, i))
			check("config", x.Name, p, jsonKey(x), cfgs)
			v.swarmObjectName("config", p, x.Name, x.External, true)
			v.labels(p+".labels", x.Labels)
			sources := 0
			for _, set := range []bool{x.Data != nil, x.File != "", x.External, x.Derive != nil} {
				if set {
					sources++
				}
			}
			if sources != 1 {
				v.add(p, "needs exactly one of data, file or external (has %d; a derived config has none)", sources)
			}
			if d := x.Derive; d != nil && (d.Make == nil || !configNames[d.From] || d.From == x.Name) {
				v.add(p+".derive", "needs a Make func and From naming another config of the stack (got %q)", d.From)
			}
		}
	}
	visit("", Objects{Networks: s.Networks, Volumes: s.Volumes, Secrets: s.Secrets, Configs: s.Configs})
	for i, svc := range s.Services {
		if svc != nil {
			visit(svcPath(svc, i)+".declares.", svc.Declares)
		}
	}
}

// Swarm's rule for secret and config names (swarmkit validateConfigOrSecretAnnotations):
// at most 64 characters, alphanumeric at both ends.
var swarmObjectRE = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)

const maxSwarmObjectName = 64

// VersionHashLen is the number of hex digits of the content hash in the version suffix Kargo
// adds to the Swarm names of configs (and of versioned secrets in a compose export).
const VersionHashLen = 10

// VersionSuffixLen is the length of the "_<content hash>" version suffix (the longest
// suffix Kargo adds to the Swarm names of secrets and configs whose content it versions).
const VersionSuffixLen = 1 + VersionHashLen

// swarmObjectName checks the name Swarm will get for a secret or config: <stack>_<name>,
// plus a version suffix for versioned content; external ones are used as named.
func (v *validation) swarmObjectName(kind, path, name string, external, versioned bool) {
	if name == "" {
		return
	}
	full := name
	if !external {
		full = v.stack.Name + "_" + name
		if versioned {
			full += "_" + strings.Repeat("0", VersionHashLen)
		}
	}
	if len(full) > maxSwarmObjectName {
		v.add(path+".name", "Swarm name of %s %q would be %d characters long, the limit is %d (shorten the stack or %s name)",
			kind, name, len(full), maxSwarmObjectName, kind)
	} else if !swarmObjectRE.MatchString(full) {
		v.add(path+".name", "Swarm rejects the %s name %q: it must start and end with a letter or digit", kind, full)
	}
}

func (v *validation) labels(path string, l map[string]string) {
	for k := range l {
		switch {
		case !labelRE.MatchString(k):
			v.add(path, "invalid label key %q", k)
		case ReservedLabel(k):
			v.add(path, "label %q is managed by Kargo and cannot be set", k)
		}
	}
}

// constraintRE is Swarm's placement constraint syntax: <key> == <value> or <key> != <value>.
var constraintRE = regexp.MustCompile(`^\s*[a-zA-Z0-9_.-]+\s*(==|!=)\s*[^=!\s][^=!]*$`)

// spreadRE is a spread descriptor: a node or engine attribute or label.
var spreadRE = regexp.MustCompile(`^(node|engine)\.[a-zA-Z0-9_.-]+$`)

func keyName(name string, i int) string {
	if name == "" {
		return strconv.Itoa(i)
	}
	return name
}

func jsonKey(v any) string {
	b, _ := jsonMarshal(v)
	return string(b)
}

// dependencies checks that depends-on names services of the stack and has no cycle.
func (v *validation) dependencies() {
	s := v.stack
	index := map[string]*Service{}
	for _, svc := range s.Services {
		if svc != nil && svc.Name != "" {
			index[svc.Name] = svc
		}
	}
	for i, svc := range s.Services {
		if svc == nil {
			continue
		}
		for j, dep := range svc.DependsOn {
			switch {
			case dep == svc.Name:
				v.add(fmt.Sprintf("%s.dependsOn[%d]", svcPath(svc, i), j), "a service cannot depend on itself")
			case index[dep] == nil:
				v.add(fmt.Sprintf("%s.dependsOn[%d]", svcPath(svc, i), j), "unknown service %q", dep)
			}
		}
	}
	if cycle := FindCycle(s.Services); len(cycle) > 0 {
		v.add("services["+cycle[0]+"].dependsOn", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}
}

// FindCycle returns one depends-on cycle among the services (first name repeated at the
// end), or nil.
func FindCycle(services []*Service) []string {
	deps := map[string][]string{}
	var names []string
	for _, svc := range services {
		if svc != nil && svc.Name != "" {
			if _, ok := deps[svc.Name]; !ok {
				names = append(names, svc.Name)
			}
			deps[svc.Name] = append(deps[svc.Name], svc.DependsOn...)
		}
	}
	sort.Strings(names)
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stackPath []string
	var found []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stackPath = append(stackPath, n)
		for _, d := range deps[n] {
			if _, known := deps[d]; !known || d == n {
				continue
			}
			switch color[d] {
			case grey:
				for k, x := range stackPath {
					if x == d {
						found = append(append([]string{}, stackPath[k:]...), d)
						return true
					}
				}
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stackPath = stackPath[:len(stackPath)-1]
		color[n] = black
		return false
	}
	for _, n := range names {
		if color[n] == white && visit(n) {
			return found
		}
	}
	return nil
}

// ports checks that no node port is published twice within the stack.
func (v *validation) ports() {
	type owner struct{ path string }
	used := map[string]owner{}
	for i, svc := range v.stack.Services {
		if svc == nil {
			continue
		}
		for j, p := range svc.Ports {
			if p.Published == 0 {
				continue
			}
			key := fmt.Sprintf("%d/%s", p.Published, p.Protocol)
			path := fmt.Sprintf("%s.ports[%d].published", svcPath(svc, i), j)
			if prev, ok := used[key]; ok {
				v.add(path, "port %s is already published by %s", key, prev.path)
				continue
			}
			used[key] = owner{path}
		}
	}
}

func nameSet[T any](items []T, name func(T) string) map[string]bool {
	m := map[string]bool{}
	for _, it := range items {
		m[name(it)] = true
	}
	return m
}

func dedup(ps []Problem) []Problem {
	var out []Problem
	seen := map[Problem]bool{}
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	// Keep initialisms readable: CPULimit -> cpuLimit, UID -> uid.
	i := 0
	for i < len(s) && s[i] >= 'A' && s[i] <= 'Z' {
		i++
	}
	switch {
	case i == 0:
		return s
	case i == 1 || i == len(s):
		return strings.ToLower(s[:i]) + s[i:]
	default:
		return strings.ToLower(s[:i-1]) + s[i-1:]
	}
}

// jsonMarshal is json.Marshal without HTML escaping, for stable comparison keys.
func jsonMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.Bytes(), err
}

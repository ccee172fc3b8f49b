package stack

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Bounds on values the engine would accept but that can only be mistakes, or that it would
// reject only after the stack's networks, secrets and configs were created.
const (
	// MinGenerate is the shortest generated secret Validate accepts: 16 characters of the
	// generator's alphabet are out of reach of guessing, a handful are not.
	MinGenerate = 16
	// MaxReplicas bounds Replicas and MaxConcurrent. Swarm sets no limit, but a slip of the
	// finger (1e6 for 16) would make the managers create and schedule that many tasks, each
	// one an entry in the Raft store every manager replicates: the cluster stalls long
	// before the engine reports anything. No stack Kargo targets runs a thousand copies of a
	// service; raise the constant if one ever does.
	MaxReplicas = 1000
	// MaxCPUs bounds CPULimit and CPUReservation, in cores. The engine takes them in billionths
	// of a core (NanoCPUs, an int64): past about 9.2e9 cores the conversion overflows into a
	// negative limit. No node has more than a few hundred cores; 1024 leaves room and stays
	// far from the overflow.
	MaxCPUs = 1024
	// minHealthDuration is the engine's smallest health check interval, timeout and start
	// period (containertypes.MinimumDuration): a non-zero value below it fails at task start.
	minHealthDuration = time.Millisecond
	// maxHostname is the longest host name Linux accepts (HOST_NAME_MAX).
	maxHostname = 64
)

// Docker socket paths: a bind mount of one of them, or of a directory holding one, hands the
// Engine API (root on the node) to the service.
var dockerSockets = []string{"/var/run/docker.sock", "/run/docker.sock"}

// dnsLabelRE is one DNS label (RFC 1123): letters, digits and '-', not at either end, at most
// 63 characters.
var dnsLabelRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// templateRE is a Swarm service template placeholder, e.g. {{.Task.Slot}}: the engine
// expands it per task in a service's host name.
var templateRE = regexp.MustCompile(`\{\{[^{}]*\}\}`)

// inputs checks the values that reach the engine (or a shell, or a container's environment)
// as they are: durations, environment, host names and aliases, mount and file targets,
// sizes, counts and host access.
func (v *validation) inputs() {
	s := v.stack
	names := map[string]bool{}
	for _, svc := range s.Services {
		if svc != nil && svc.Name != "" {
			names[svc.Name] = true
		}
	}
	for i, svc := range s.Services {
		if svc == nil {
			continue
		}
		p := svcPath(svc, i)
		v.durations(p, svc)
		v.environment(p, svc.Env)
		if h := svc.Hostname; h != "" && !validHostname(templateRE.ReplaceAllString(h, "t")) {
			v.add(p+".hostname", "%q is not a valid host name: DNS labels of letters, digits and '-' separated by dots, at most %d characters", h, maxHostname)
		}
		for j, a := range svc.Aliases {
			ap := fmt.Sprintf("%s.aliases[%d]", p, j)
			switch {
			case !validHostname(a):
				v.add(ap, "%q is not a valid DNS name: labels of letters, digits and '-' separated by dots", a)
			case a != svc.Name && names[a]:
				v.add(ap, "%q is the name of another service of the stack: the alias would take over its DNS name", a)
			}
		}
		if r := svc.Replicas; r != nil && *r > MaxReplicas {
			v.add(p+".replicas", "%d is beyond the bound of %d (stack.MaxReplicas)", *r, MaxReplicas)
		}
		if svc.MaxConcurrent > MaxReplicas {
			v.add(p+".maxConcurrent", "%d is beyond the bound of %d (stack.MaxReplicas)", svc.MaxConcurrent, MaxReplicas)
		}
		for field, f := range map[string]float64{".resources.cpuLimit": svc.Resources.CPULimit, ".resources.cpuReservation": svc.Resources.CPUReservation} {
			if f > MaxCPUs && !math.IsInf(f, 0) {
				v.add(p+field, "%g cores is beyond the bound of %d (stack.MaxCPUs)", f, MaxCPUs)
			}
		}
		for j, m := range svc.Mounts {
			mp := fmt.Sprintf("%s.mounts[%d]", p, j)
			if path.IsAbs(m.Target) {
				if path.Clean(m.Target) == "/" {
					v.add(mp+".target", "cannot be / (the container's root)")
				}
				if hasDotDot(m.Target) {
					v.add(mp+".target", "%q has a '..' segment", m.Target)
				}
			}
			if m.Type == BindMount && path.IsAbs(m.Source) && !m.HostControl {
				if why := hostControl(m.Source); why != "" {
					v.add(mp+".source", "a bind mount of %q %s, which is root on the node: set hostControl on the mount if that is meant", m.Source, why)
				}
			}
		}
		for j, ref := range svc.Secrets {
			if t := ref.Target; t == "." || t == ".." || hasDotDot(t) {
				v.add(fmt.Sprintf("%s.secrets[%d].target", p, j), "%q leaves %s or has a '..' segment", t, strings.TrimSuffix(SecretsDir, "/"))
			}
		}
		for j, ref := range svc.Configs {
			if hasDotDot(ref.Target) {
				v.add(fmt.Sprintf("%s.configs[%d].target", p, j), "%q has a '..' segment", ref.Target)
			}
		}
	}
	visit := func(prefix string, o Objects) {
		for i, x := range o.Secrets {
			if x.Generate > 0 && x.Generate < MinGenerate {
				v.add(fmt.Sprintf("%ssecrets[%s].generate", prefix, keyName(x.Name, i)),
					"a generated secret needs at least %d characters, got %d", MinGenerate, x.Generate)
			}
		}
	}
	visit("", Objects{Secrets: s.Secrets})
	for i, svc := range s.Services {
		if svc != nil {
			visit(svcPath(svc, i)+".declares.", svc.Declares)
		}
	}
}

// durations refuses negative durations (and health durations the engine rejects).
func (v *validation) durations(p string, svc *Service) {
	neg := func(field string, d time.Duration) {
		if d < 0 {
			v.add(p+field, "must not be negative, got %v", d)
		}
	}
	if h := svc.Health; h != nil {
		for field, d := range map[string]time.Duration{".health.interval": h.Interval, ".health.timeout": h.Timeout, ".health.startPeriod": h.StartPeriod} {
			switch {
			case d < 0:
				neg(field, d)
			case d > 0 && d < minHealthDuration:
				v.add(p+field, "must be 0 (the engine's default) or at least %v, got %v", minHealthDuration, d)
			}
		}
	}
	neg(".stopGracePeriod", svc.StopGracePeriod)
	for name, u := range map[string]*UpdatePolicy{".update": svc.Update, ".rollback": svc.Rollback} {
		if u != nil {
			neg(name+".delay", u.Delay)
			neg(name+".monitor", u.Monitor)
		}
	}
	if r := svc.Restart; r != nil {
		neg(".restart.delay", r.Delay)
		neg(".restart.window", r.Window)
	}
}

// environment refuses variable names a process cannot receive or a shell cannot read back
// (spaces, '=', control characters) and values with a NUL byte, which end a C string.
func (v *validation) environment(p string, env map[string]string) {
	for k, val := range env {
		if k != "" && strings.IndexFunc(k, func(r rune) bool { return r == '=' || unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			v.add(p+".env", "invalid variable name %q: no '=', spaces or control characters", k)
		}
		if strings.ContainsRune(val, 0) {
			v.add(p+".env", "the value of %q holds a NUL byte", k)
		}
	}
}

// validHostname reports whether h is a host name: DNS labels separated by dots, at most 64
// characters in all.
func validHostname(h string) bool {
	if len(h) > maxHostname {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !dnsLabelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// hasDotDot reports whether a path has a ".." segment.
func hasDotDot(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

// hostControl says why a bind mount of src hands the node to the service ("is the host's
// root", "is the Docker socket", "holds the Docker socket"), or "" when it does not.
func hostControl(src string) string {
	c := path.Clean(src)
	if c == "/" {
		return "is the host's root"
	}
	for _, sock := range dockerSockets {
		switch {
		case c == sock:
			return "is the Docker socket"
		case strings.HasPrefix(sock, c+"/"):
			return "holds the Docker socket"
		}
	}
	return ""
}

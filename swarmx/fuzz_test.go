package swarmx_test

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// fuzzBytes reads choices from fuzz input; past its end every choice is 0.
type fuzzBytes struct {
	b []byte
	i int
}

func (f *fuzzBytes) next() byte {
	if f.i >= len(f.b) {
		return 0
	}
	c := f.b[f.i]
	f.i++
	return c
}

func (f *fuzzBytes) bool() bool { return f.next()&1 == 1 }

func (f *fuzzBytes) u16() uint32 { return uint32(f.next())<<8 | uint32(f.next()) }

// raw returns up to 12 arbitrary bytes as a string.
func (f *fuzzBytes) raw() string {
	n := int(f.next() % 12)
	out := make([]byte, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, f.next())
	}
	return string(out)
}

// pick returns one of the options, or (for the last slot) arbitrary bytes.
func (f *fuzzBytes) pick(opts ...string) string {
	k := int(f.next()) % (len(opts) + 1)
	if k == len(opts) {
		return f.raw()
	}
	return opts[k]
}

var fuzzNames = []string{"db", "api", "web", "db", "Bad_Name", "", "a-very-long-service-name-that-makes-the-swarm-name-exceed-the-limit"}

// fuzzStack builds a stack from fuzz input: names, modes, replicas, ports, mounts, env,
// schedules, depends-on, secrets, configs and networks, valid or not.
func fuzzStack(data []byte) *stack.Stack {
	f := &fuzzBytes{b: data}
	st := &stack.Stack{Name: f.pick("maps", "maps", "Maps", "", "my_stack", "x-")}
	nsvc := int(f.next() % 5)
	for i := 0; i < nsvc; i++ {
		if f.next() == 0xff {
			st.Services = append(st.Services, nil)
			continue
		}
		s := &stack.Service{
			Name:  f.pick(fuzzNames...),
			Image: f.pick("example/x:1", "example/y:2", ""),
			Mode:  stack.Mode(f.pick("", "replicated", "global", "replicated-job", "global-job", "cron")),
		}
		if f.bool() {
			s.Replicas = stack.Ptr(uint64(f.next() % 4))
		}
		if f.bool() {
			s.MaxConcurrent = uint64(f.next() % 3)
		}
		s.EndpointMode = stack.EndpointMode(f.pick("", "dnsrr", "vip", "lb"))
		for j := 0; j < int(f.next()%3); j++ {
			s.Ports = append(s.Ports, stack.Port{Target: f.u16() % 70000, Published: f.u16() % 70000,
				Protocol: f.pick("", "tcp", "udp", "icmp"), Mode: stack.PortMode(f.pick("", "host", "ingress", "mesh"))})
		}
		for j := 0; j < int(f.next()%3); j++ {
			s.Mounts = append(s.Mounts, stack.Mount{Type: stack.MountType(f.pick("", "volume", "bind", "tmpfs", "nfs")),
				Source: f.pick("data", "/srv/data", "", "bad name", "./rel"), Target: f.pick("/data", "/tmp", "rel", ""),
				ReadOnly: f.bool(), TmpfsSize: int64(f.next()) - 10})
		}
		for j := 0; j < int(f.next()%3); j++ {
			if s.Env == nil {
				s.Env = map[string]string{}
			}
			s.Env[f.pick("A", "B", "", "A=B")] = f.raw()
		}
		s.Schedule = f.pick("", "", "@hourly", "0 */5 * * * *", "*/5 * * * *", "bad")
		for j := 0; j < int(f.next()%3); j++ {
			s.DependsOn = append(s.DependsOn, f.pick(fuzzNames...))
		}
		for j := 0; j < int(f.next()%3); j++ {
			s.Secrets = append(s.Secrets, stack.FileRef{Source: f.pick("pw", "key", ""), Target: f.pick("", "pw", "/etc/pw", "a/b"),
				Mode: uint32(f.next()) * 4})
		}
		if f.bool() {
			s.Configs = append(s.Configs, stack.FileRef{Source: f.pick("cfg", "nope"), Target: f.pick("/etc/cfg", "cfg", "")})
		}
		if f.bool() {
			s.Networks = append(s.Networks, f.pick("default", "back", "ext", "nope"))
		}
		if f.bool() {
			s.Health = &stack.Health{Test: []string{f.pick("CMD", "CMD-SHELL", "NONE", "curl"), "true"}[:1+int(f.next()%2)], Retries: int(f.next()) - 2}
		}
		if f.bool() {
			s.Resources = stack.Resources{CPULimit: float64(f.next()) / 64, CPUReservation: float64(f.next()) / 64,
				MemoryLimit: int64(f.next()) * stack.MiB, MemoryReservation: int64(f.next()) * stack.MiB}
			switch f.next() % 8 { // numbers JSON cannot carry
			case 1:
				s.Resources.CPULimit = math.NaN()
			case 2:
				s.Resources.CPUReservation = math.Inf(1)
			case 3:
				s.Update = &stack.UpdatePolicy{MaxFailureRatio: float32(math.Inf(-1))}
			}
		}
		if f.bool() {
			s.Placement = stack.Placement{Constraints: []string{f.raw()}, MaxReplicasPerNode: uint64(f.next() % 2)}
		}
		if f.next() == 0xfe {
			s.Problemf("config", "builder problem %q", f.raw())
		}
		st.Services = append(st.Services, s)
	}
	// Secrets and configs come from Data only (or generate/external), so Render never needs
	// the environment or files.
	for j := 0; j < int(f.next()%3); j++ {
		sec := stack.Secret{Name: f.pick("pw", "key", "bad name", "")}
		switch f.next() % 5 {
		case 0:
			sec.Data = []byte(f.raw())
		case 1:
			sec.Generate = int(f.next())
		case 2:
			sec.External = true
		case 3:
			sec.Data, sec.Generate = []byte("x"), 4
		}
		st.Secrets = append(st.Secrets, sec)
	}
	if f.bool() {
		st.Configs = append(st.Configs, stack.Config{Name: f.pick("cfg", ""), Data: []byte(f.raw()), External: f.next() == 1})
	}
	if f.bool() {
		st.Networks = append(st.Networks, stack.Network{Name: f.pick("back", "ext", "default", ""), External: f.bool(), Internal: f.bool()})
	}
	if f.bool() {
		st.Volumes = append(st.Volumes, stack.Volume{Name: f.pick("data", "other", ""), External: f.bool()})
	}
	return st
}

// FuzzValidateRender checks that Validate and Render never panic on any stack, and that Render
// succeeds exactly when Validate accepts the stack.
func FuzzValidateRender(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0, 0})
	f.Add([]byte{0, 2, 1, 0, 0, 1, 2, 0, 1, 0, 0x1f, 0x90, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1})
	f.Add([]byte("maps\x03db api web\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"))
	f.Add([]byte{0, 3, 0, 0, 3, 1, 2, 1, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 1})
	f.Add([]byte{4, 4, 0xff, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Add([]byte{0, 1, 0, 0, 3, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe})
	f.Add([]byte("\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x50\x00\x50\x01\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x02\x00\x00\x00\x01\x00\x50\x00\x50\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st := fuzzStack(data)
		verr := st.Validate()
		d, rerr := swarmx.Render(st, emptySource)
		if verr == nil {
			if rerr != nil {
				t.Fatalf("Validate accepted the stack but Render failed: %v", rerr)
			}
			if d == nil || len(d.Services) != len(st.Services) {
				t.Fatalf("Render returned %v for %d services", d, len(st.Services))
			}
			again, err := swarmx.Render(st, emptySource)
			if err != nil {
				t.Fatal(err)
			}
			for i := range d.Services {
				if d.Services[i].Hash != again.Services[i].Hash {
					t.Fatalf("service %s: hash differs between two renders", d.Services[i].Name)
				}
			}
			if diff := cmp.Diff(d.Redacted().Networks, again.Redacted().Networks); diff != "" {
				t.Fatalf("networks differ between renders: %s", diff)
			}
			return
		}
		if rerr == nil {
			t.Fatalf("Validate rejected the stack (%v) but Render succeeded", verr)
		}
		var ve *stack.ValidationError
		if !errors.As(verr, &ve) || len(ve.Problems) == 0 {
			t.Fatalf("Validate returned %T %v, want a *stack.ValidationError with problems", verr, verr)
		}
		if rerr.Error() != verr.Error() {
			t.Fatalf("Render's error differs from Validate's:\n%v\n%v", rerr, verr)
		}
		for _, p := range ve.Problems {
			if p.Path == "" || p.Message == "" {
				t.Fatalf("problem without path or message: %+v", p)
			}
		}
	})
}

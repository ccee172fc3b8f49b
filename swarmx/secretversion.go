package swarmx

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/kalisio/kargo/stack"
	"github.com/moby/moby/api/types/swarm"
	"golang.org/x/crypto/argon2"
)

// Versions of secrets.
//
// Swarm secrets are immutable, so a changed secret is a new object with a new name, and the
// services using it are pointed at it. The name must not say anything about the value: it
// shows in plans, progress lines and `docker secret ls` to whoever can list secrets, and a
// version made from the value by a fast hash (as Kargo did before: 10 hex of SHA-256 over a
// public prefix and the value) lets anyone test password guesses at the speed of that hash
// (a weak password fell in 2,400 guesses, under 2 ms). And the engine never returns a secret's
// content, so Kargo cannot read the existing object back to compare.
//
// So a secret given by Data, File or Env is named <stack>_<name>_v<N>, N a counter that says
// nothing about the content, and the object carries LabelDigest: Argon2id of the content (or
// of stack.Secret.Identity when set) with a random salt of its own, and the parameters. Plan
// and Apply (bindSecrets) look at the existing versions of each secret, newest first, and
// compute Argon2id of the desired content with each one's salt until one matches: that
// object is reused (a no-op re-apply makes no mutating call); when none matches, the next
// version is created with a fresh salt. Render alone, with no engine, names every secret v1.
//
// A guess at the value therefore costs whoever reads the labels one Argon2id (64 MiB, one
// pass: about 60 ms on one core, like bcrypt at cost 10; BenchmarkSecretDigest measures it),
// and the random salt per object defeats precomputed tables. The same cost is paid by Plan
// and Apply once per such secret, only where an existing version is to be compared (and once
// per new version created); generated and external secrets need none.
//
// Compose exports cannot ask the engine, so WriteCompose gives secrets a random version and
// reuses the previous export's when the file it wrote holds the same content.

// LabelDigest is the label holding a versioned secret's salted Argon2id digest:
// "argon2id$<time>$<memory KiB>$<threads>$<salt>$<key>", salt and key in unpadded base64.
const LabelDigest = "io.kargo.digest"

// Argon2id parameters of new digests (RFC 9106's second recommended option, one lane). Old
// digests are verified with the parameters they carry.
const (
	digestTime    = 1
	digestMemory  = 64 * 1024 // KiB
	digestThreads = 1
	digestKeyLen  = 32
	digestSaltLen = 16
)

var b64 = base64.RawStdEncoding

// newDigest returns the LabelDigest value of content, with a fresh random salt.
func newDigest(content []byte) string {
	salt := make([]byte, digestSaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic("kargo: crypto/rand failed: " + err.Error())
	}
	key := argon2.IDKey(content, salt, digestTime, digestMemory, digestThreads, digestKeyLen)
	return fmt.Sprintf("argon2id$%d$%d$%d$%s$%s", digestTime, digestMemory, digestThreads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// digestMatches reports whether label is a digest of content. Labels that do not parse, or
// whose parameters are out of bounds (a label is not trusted to make Kargo spend gigabytes),
// do not match.
func digestMatches(label string, content []byte) bool {
	f := strings.Split(label, "$")
	if len(f) != 6 || f[0] != "argon2id" {
		return false
	}
	t, err1 := strconv.ParseUint(f[1], 10, 32)
	m, err2 := strconv.ParseUint(f[2], 10, 32)
	p, err3 := strconv.ParseUint(f[3], 10, 8)
	salt, err4 := b64.DecodeString(f[4])
	key, err5 := b64.DecodeString(f[5])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil ||
		t < 1 || t > 10 || m < 8*1024 || m > 1024*1024 || p < 1 || p > 16 || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return false
	}
	got := argon2.IDKey(content, salt, uint32(t), uint32(m), uint8(p), uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// bindSecret returns the name of the existing version of s whose digest matches its content,
// or the next version's, then labelling s with a new digest when label is set (a secret to
// create needs it; a plan does not, and Argon2id is what costs).
func bindSecret(stackName string, s *Secret, existing []swarm.Secret, label bool) string {
	type cand struct {
		n      int
		name   string
		digest string
	}
	var cands []cand
	latest := 0
	for _, e := range existing {
		n, ok := versionOf(e.Spec.Name, stackName, s.Logical)
		if !ok {
			continue
		}
		latest = max(latest, n)
		if dg := e.Spec.Labels[LabelDigest]; dg != "" && e.Spec.Labels[stack.LabelName] == s.Logical {
			cands = append(cands, cand{n, e.Spec.Name, dg})
		}
	}
	sort.Slice(cands, func(a, b int) bool { return cands[a].n > cands[b].n })
	for _, c := range cands {
		if digestMatches(c.digest, s.Fingerprint) {
			return c.name
		}
	}
	if label {
		s.Spec.Labels = merge(s.Spec.Labels, map[string]string{LabelDigest: newDigest(s.Fingerprint)})
	}
	return versionedName(stackName, s.Logical, latest+1)
}

// versionedName is the Swarm name of version n of a stack's secret.
func versionedName(stackName, logical string, n int) string {
	return fmt.Sprintf("%s_%s_v%d", stackName, logical, n)
}

// versionOf returns N when name is <stack>_<logical>_v<N>.
func versionOf(name, stackName, logical string) (int, bool) {
	rest, ok := strings.CutPrefix(name, stackName+"_"+logical+"_v")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// bindSecrets names the versioned secrets of d after the existing objects of the stack (as
// Observe lists them): the version whose digest matches the content, else the next version,
// labelled with a new digest when label is set (Apply; Plan creates nothing and skips that
// cost). Service specs are pointed at the names chosen and their hashes computed again.
func (d *Desired) bindSecrets(existing []swarm.Secret, label bool) {
	names := make([]string, len(d.Secrets))
	// Each secret costs an Argon2id or two: they run in parallel, a few at a time (each
	// takes 64 MiB).
	sem := make(chan struct{}, min(runtime.GOMAXPROCS(0), 4))
	var wg sync.WaitGroup
	for i := range d.Secrets {
		s := &d.Secrets[i]
		if !s.Versioned {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			names[i] = bindSecret(d.Stack, s, existing, label)
		}()
	}
	wg.Wait()
	renamed := map[string]string{}
	for i := range d.Secrets {
		s := &d.Secrets[i]
		if s.Versioned && names[i] != s.Name {
			renamed[s.Name] = names[i]
			s.Name, s.Spec.Name = names[i], names[i]
		}
	}
	if len(renamed) == 0 {
		return
	}
	for i := range d.Services {
		svc := &d.Services[i]
		cs := svc.Spec.TaskTemplate.ContainerSpec
		if cs == nil {
			continue
		}
		changed := false
		refs := make([]*swarm.SecretReference, len(cs.Secrets))
		for j, r := range cs.Secrets {
			c := *r
			if n, ok := renamed[c.SecretName]; ok {
				c.SecretName = n
				changed = true
			}
			refs[j] = &c
		}
		if !changed {
			continue
		}
		ncs := *cs
		ncs.Secrets = refs
		svc.Spec.TaskTemplate.ContainerSpec = &ncs
		svc.Spec.Labels = merge(svc.Spec.Labels)
		h, last := specHash(svc.Spec)
		svc.Spec.Labels[stack.LabelHash], svc.Spec.Labels[stack.LabelLastApplied] = h, last
		svc.Hash = h
	}
}

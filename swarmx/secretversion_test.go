package swarmx_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pwStack(pw string) *stack.Stack {
	s := svc("db")
	s.Secrets = []stack.FileRef{{Source: "pw"}}
	return stack.New("maps", s, stack.Secret{Name: "pw", Data: []byte(pw)})
}

// A secret's Swarm name (shown by plans, progress lines and docker secret ls) says nothing
// about its value: the same password gets unrelated digests on two engines (random salts), two
// passwords the same name, and the label holds a slow, salted Argon2id digest, not a fast hash.
func TestSecretNamesSayNothingOfTheValue(t *testing.T) {
	ctx := context.Background()
	created := func(pw string) swarm.Secret {
		a, e := applier(t)
		_, err := a.Apply(ctx, pwStack(pw), swarmx.ApplyOptions{})
		require.NoError(t, err)
		names := e.SecretNames()
		require.Len(t, names, 1)
		sec, _ := e.Secret(names[0])
		return sec
	}
	one, two, other := created("winter2024"), created("winter2024"), created("summer2025")
	assert.Equal(t, "maps_pw_v1", one.Spec.Name)
	assert.Equal(t, one.Spec.Name, other.Spec.Name, "the name does not depend on the value")
	d1, d2 := one.Spec.Labels[swarmx.LabelDigest], two.Spec.Labels[swarmx.LabelDigest]
	assert.Regexp(t, `^argon2id\$1\$65536\$1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`, d1)
	assert.NotEqual(t, d1, d2, "each object has its own random salt")
	for _, s := range []swarm.Secret{one, two, other} {
		b, _ := json.Marshal(s.Spec.Annotations)
		assert.NotContains(t, string(b), "2024")
		assert.NotContains(t, string(b), "2025")
	}
}

// Versions follow the content: unchanged content reuses the existing object (no mutating
// call), changed content creates the next version and the old one goes once unused.
func TestSecretVersionsFollowContent(t *testing.T) {
	ctx := context.Background()
	a, e := applier(t)
	step := func(pw string, wantMutations []string) {
		t.Helper()
		e.Reset()
		p, err := a.Plan(ctx, pwStack(pw))
		require.NoError(t, err)
		res, err := a.Apply(ctx, pwStack(pw), swarmx.ApplyOptions{})
		require.NoError(t, err)
		assert.Equal(t, wantMutations, methods(e.Mutations()))
		assert.Equal(t, len(p.Changes()), len(res.Plan.Changes()), "plan and apply agree: %v", p)
	}
	step("alpha", []string{"NetworkCreate maps_default", "SecretCreate maps_pw_v1", "ServiceCreate maps_db"})
	step("alpha", nil)
	step("beta", []string{"SecretCreate maps_pw_v2", "ServiceUpdate maps_db", "SecretRemove maps_pw_v1"})
	step("beta", nil)
	sec, _ := e.Secret("maps_pw_v2")
	assert.Equal(t, "beta", string(sec.Spec.Data))
	step("alpha", []string{"SecretCreate maps_pw_v3", "ServiceUpdate maps_db", "SecretRemove maps_pw_v2"})
	got, _ := e.Service("maps_db")
	assert.Equal(t, "maps_pw_v3", got.Spec.TaskTemplate.ContainerSpec.Secrets[0].SecretName)
}

// With Identity, content made with randomness (a bcrypt hash with a random salt) is kept as
// it is while what it was made from stays the same.
func TestSecretIdentityKeepsRandomContent(t *testing.T) {
	ctx := context.Background()
	a, e := applier(t)
	st := func(identity string) *stack.Stack {
		s := svc("gw")
		s.Secrets = []stack.FileRef{{Source: "auth"}}
		data := make([]byte, 16)
		rand.Read(data)
		return stack.New("maps", s, stack.Secret{Name: "auth", Data: data, Identity: []byte(identity)})
	}
	_, err := a.Apply(ctx, st("alice:s3cret"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	first, _ := e.Secret("maps_auth_v1")
	e.Reset()
	_, err = a.Apply(ctx, st("alice:s3cret"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Empty(t, e.Mutations())
	kept, _ := e.Secret("maps_auth_v1")
	assert.Equal(t, first.Spec.Data, kept.Spec.Data)

	_, err = a.Apply(ctx, st("alice:changed"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"maps_auth_v2"}, e.SecretNames())

	// The identity is never printed.
	d, err := swarmx.Render(st("alice:changed"), emptySource)
	require.NoError(t, err)
	b, _ := json.Marshal(d)
	assert.NotContains(t, string(b), "alice:changed")
	b, _ = json.Marshal(d.Redacted())
	assert.NotContains(t, string(b), "alice:changed")
}

// A digest label that does not parse, or asks for absurd parameters, matches nothing: the
// next version is created, and Kargo does not spend gigabytes on a label.
func TestSecretDigestLabelsAreNotTrusted(t *testing.T) {
	ctx := context.Background()
	a, e := applier(t)
	for name, dg := range map[string]string{
		"maps_pw_v1": "argon2id$1$99999999$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"maps_pw_v4": "sha256$whatever",
	} {
		_, err := e.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{
			Annotations: swarm.Annotations{Name: name, Labels: map[string]string{
				stack.LabelNamespace: "maps", stack.LabelName: "pw", swarmx.LabelDigest: dg}},
			Data: []byte("alpha")}})
		require.NoError(t, err)
	}
	_, err := a.Apply(ctx, pwStack("alpha"), swarmx.ApplyOptions{})
	require.NoError(t, err)
	got, _ := e.Service("maps_db")
	assert.Equal(t, "maps_pw_v5", got.Spec.TaskTemplate.ContainerSpec.Secrets[0].SecretName)
	assert.False(t, strings.Contains(strings.Join(e.SecretNames(), " "), "maps_pw_v1"), "unused versions removed")
}

// BenchmarkNoOpReapply measures a re-apply of an unchanged stack with 1 and 4 password secrets
// on the fake engine: one Argon2id per versioned secret (run in parallel) dominates it.
func BenchmarkNoOpReapply(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1, 4} {
		st := func() *stack.Stack {
			s := svc("db")
			st := stack.New("maps", s)
			for i := 0; i < n; i++ {
				name := fmt.Sprintf("pw-%d", i)
				s.Secrets = append(s.Secrets, stack.FileRef{Source: name})
				st.Add(stack.Secret{Name: name, Data: []byte(fmt.Sprintf("winter202%d", i))})
			}
			return st
		}
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			a, e := applier(&testing.T{})
			if _, err := a.Apply(ctx, st(), swarmx.ApplyOptions{}); err != nil {
				b.Fatal(err)
			}
			e.Reset()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := a.Apply(ctx, st(), swarmx.ApplyOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if m := e.Mutations(); len(m) > 0 {
				b.Fatalf("mutations: %v", methods(m))
			}
		})
	}
}

package swarmx

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// BenchmarkSecretDigest is the cost of testing one guess of a secret's value against its
// LabelDigest (what anyone who can list secrets could do), and what Plan and Apply pay per
// versioned secret.
// The former name suffix (SHA-256 over a public prefix and the value) is measured beside it.
func BenchmarkSecretDigest(b *testing.B) {
	label := newDigest([]byte("winter2024"))
	b.Run("argon2id", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if digestMatches(label, []byte("summer2025")) {
				b.Fatal("matched a wrong guess")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/guess")
	})
	b.Run("former-name-hash", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sum := sha256.Sum256(append([]byte("kargo-secret:maps/pw:"), "summer2025"...))
			_ = hex.EncodeToString(sum[:])[:10]
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/guess")
	})
}

func TestDigestMatches(t *testing.T) {
	l := newDigest([]byte("winter2024"))
	if !digestMatches(l, []byte("winter2024")) || digestMatches(l, []byte("winter2025")) {
		t.Fatal("digest does not tell the right value from a wrong one")
	}
	if n, ok := versionOf("maps_pw_v12", "maps", "pw"); !ok || n != 12 {
		t.Fatal(n, ok)
	}
	for _, bad := range []string{"maps_pw_v", "maps_pw_v0", "maps_pw_v01", "maps_pw_v1_v2", "maps_pw_abc", "maps_pwd_v1"} {
		if _, ok := versionOf(bad, "maps", "pw"); ok {
			t.Errorf("%s taken for a version", bad)
		}
	}
}

// Plan binds secrets without labelling the new ones: a digest is only needed to create a
// secret, and each costs an Argon2id (a plan of 500 new secrets took about 12 s on two cores).
func TestBindSecretsLabelsOnlyWhenAsked(t *testing.T) {
	for _, label := range []bool{false, true} {
		d := &Desired{Stack: "maps", Secrets: []Secret{{Name: "maps_pw_v1", Logical: "pw", Versioned: true, Fingerprint: []byte("x")}}}
		d.bindSecrets(nil, label)
		dg, ok := d.Secrets[0].Spec.Labels[LabelDigest]
		if ok != label || (label && !digestMatches(dg, []byte("x"))) {
			t.Fatalf("label=%t: digest label %q present %t", label, dg, ok)
		}
		if d.Secrets[0].Name != "maps_pw_v1" {
			t.Fatalf("label=%t: name %q", label, d.Secrets[0].Name)
		}
	}
}

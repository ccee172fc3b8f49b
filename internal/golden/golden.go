// Package golden checks that a stack renders to exactly the Swarm specs and compose file it
// rendered to before: the safety net of refactors that must not change what is deployed.
//
// Check renders a stack and compares the result, byte for byte, with the files under the
// test package's testdata/golden directory. After a change that is meant to change what a
// stack deploys, rewrite them and review the diff:
//
//	KARGO_UPDATE_GOLDEN=1 go test -run Golden ./...
package golden

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// UpdateEnv is the environment variable that makes Check rewrite the golden files.
const UpdateEnv = "KARGO_UPDATE_GOLDEN"

// Check renders st with src and compares the desired Swarm objects (as indented JSON) and
// the compose export with testdata/golden/<name>.json and <name>.compose.yml. With
// KARGO_UPDATE_GOLDEN=1 in the environment it writes them instead.
func Check(t testing.TB, name string, st *stack.Stack, src swarmx.Source) {
	t.Helper()
	d, err := swarmx.Render(st, src)
	if err != nil {
		t.Fatalf("golden %s: render: %v", name, err)
	}
	specs, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatalf("golden %s: marshal: %v", name, err)
	}
	compose, err := swarmx.ComposeYAML(d)
	if err != nil {
		t.Fatalf("golden %s: compose: %v", name, err)
	}
	compare(t, filepath.Join("testdata", "golden", name+".json"), append(specs, '\n'))
	compare(t, filepath.Join("testdata", "golden", name+".compose.yml"), compose)
}

func compare(t testing.TB, path string, got []byte) {
	t.Helper()
	if os.Getenv(UpdateEnv) == "1" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v (write it with %s=1)", path, err, UpdateEnv)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: rendered output differs from the golden file (first difference at line %d):\n%s\n"+
			"if the change is meant, rewrite the golden files with %s=1 and review the diff",
			path, firstDiffLine(got, want), diffContext(got, want), UpdateEnv)
	}
}

func firstDiffLine(a, b []byte) int {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(al) && i < len(bl); i++ {
		if !bytes.Equal(al[i], bl[i]) {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

func diffContext(got, want []byte) string {
	n := firstDiffLine(got, want)
	gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	var b bytes.Buffer
	for i := max(0, n-3); i < n+2; i++ {
		if i < len(wl) {
			b.WriteString("- " + string(wl[i]) + "\n")
		}
		if i < len(gl) {
			b.WriteString("+ " + string(gl[i]) + "\n")
		}
	}
	return b.String()
}

package scheduler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGo writes an executable named go in dir/bin and returns its path.
func fakeGo(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(bin, "go")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// The go command is the one on PATH, else $GOROOT/bin/go, else an error that says what to
// install.
func TestGoTool(t *testing.T) {
	onPath, inRoot := fakeGo(t, t.TempDir(), 0o755), fakeGo(t, t.TempDir(), 0o755)
	root := filepath.Dir(filepath.Dir(inRoot))

	t.Setenv("PATH", filepath.Dir(onPath))
	t.Setenv("GOROOT", root)
	if got, err := goTool(); err != nil || got != onPath {
		t.Errorf("go on PATH: goTool() = %q, %v; want %q", got, err, onPath)
	}

	t.Setenv("PATH", "")
	if got, err := goTool(); err != nil || got != inRoot {
		t.Errorf("go in $GOROOT/bin only: goTool() = %q, %v; want %q", got, err, inRoot)
	}

	notExec := filepath.Dir(filepath.Dir(fakeGo(t, t.TempDir(), 0o644)))
	for _, goroot := range []string{"", notExec} {
		t.Setenv("GOROOT", goroot)
		got, err := goTool()
		if err == nil {
			t.Errorf("GOROOT=%q and no go on PATH: goTool() = %q, want an error", goroot, got)
			continue
		}
		for _, want := range []string{"install Go", "PATH", "GOROOT", ImageRef} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("GOROOT=%q: error %q does not say %q", goroot, err, want)
			}
		}
	}
}

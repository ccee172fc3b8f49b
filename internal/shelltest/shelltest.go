// Package shelltest runs the shell lines service builders write (CMD-SHELL health checks,
// `sh -c` commands) through /bin/sh with every external command replaced by a stub that
// logs its arguments, so tests can feed hostile values to a builder and prove that none of
// them runs as code.
package shelltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kalisio/kargo/stack"
)

// Pwn is the file each Hostile value creates in the working directory when a shell runs it.
const Pwn = "pwn"

// Hostile are values a shell runs when they reach it unquoted (or inside double quotes):
// command substitutions, backticks, command separators, a newline, quote breakers.
var Hostile = []string{
	"$(echo>pwn)", "`echo>pwn`", ";echo>pwn;", "\necho>pwn\n", "&&echo>pwn", "|echo>pwn",
	"'$(echo>pwn)'", "\"$(echo>pwn)\"", "\\\"`echo>pwn`",
}

// Stubs are the external commands the builders' shell lines call; Run replaces each with a
// logging stub that succeeds.
var Stubs = []string{"mongo", "mongosh", "node", "curl", "grep", "pg_isready", "ogr2ogr", "mapcache_seed",
	"mkdir", "cat", "date", "sleep", "psql", "wget", "npm"}

// Lines returns the shell lines of a service: its CMD-SHELL health test and the script of a
// `sh -c` (or -ec) command or args.
func Lines(svc *stack.Service) []string {
	var out []string
	if h := svc.Health; h != nil && len(h.Test) == 2 && h.Test[0] == "CMD-SHELL" {
		out = append(out, h.Test[1])
	}
	for _, argv := range [][]string{svc.Command, svc.Args} {
		if len(argv) == 3 && argv[0] == "sh" && strings.HasPrefix(argv[1], "-") && strings.HasSuffix(argv[1], "c") {
			out = append(out, argv[2])
		}
	}
	return out
}

// Call is one run of a stubbed command: its name, then its arguments.
type Call []string

// Result is what running a line did.
type Result struct {
	// Calls are the stubbed commands the line ran, sorted.
	Calls []Call
	// Pwned reports whether a hostile value ran (the Pwn file exists).
	Pwned bool
	// Err is the shell's exit error, if any; Output its combined output.
	Err    error
	Output string
}

// Called reports whether a stub named name ran with arg among its arguments.
func (r Result) Called(name, arg string) bool {
	for _, c := range r.Calls {
		if c[0] == name {
			for _, a := range c[1:] {
				if a == arg || (arg == "" && len(c) > 0) {
					return true
				}
			}
		}
	}
	return false
}

// Run runs line with /bin/sh -c in a fresh directory, PATH holding only the stubs.
func Run(t *testing.T, line string) Result {
	t.Helper()
	return run(t, t.TempDir(), line)
}

// RunWithSecrets is Run with the named secret files present: each is written under the run's
// directory, and stack.SecretsDir (/run/secrets/) in line is rewritten to point there.
func RunWithSecrets(t *testing.T, line string, secrets ...string) Result {
	t.Helper()
	dir := t.TempDir()
	sdir := filepath.Join(dir, "run", "secrets")
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if err := os.WriteFile(filepath.Join(sdir, s), []byte("secret-content\n"), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	return run(t, dir, strings.ReplaceAll(line, stack.SecretsDir, sdir+"/"))
}

func run(t *testing.T, dir, line string) Result {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	bin, logs := filepath.Join(dir, "bin"), filepath.Join(dir, "calls")
	for _, d := range []string{bin, logs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Each call writes its name and arguments, NUL-terminated, to a file of its own.
	stub := "#!/bin/sh\nprintf '%s\\0' \"${0##*/}\" \"$@\" > \"$STUB_LOGS/$$\"\n[ \"${0##*/}\" != cat ] || printf 'stub-content'\nexit 0\n"
	for _, s := range Stubs {
		if err := os.WriteFile(filepath.Join(bin, s), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin, "STUB_LOGS=" + logs, "HOME=/nonexistent"}
	out, err := cmd.CombinedOutput()
	r := Result{Err: err, Output: string(out)}
	entries, _ := os.ReadDir(logs)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(logs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		r.Calls = append(r.Calls, strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"))
	}
	sort.Slice(r.Calls, func(i, j int) bool { return strings.Join(r.Calls[i], " ") < strings.Join(r.Calls[j], " ") })
	_, statErr := os.Stat(filepath.Join(dir, Pwn))
	r.Pwned = statErr == nil
	return r
}

// RunAll runs every shell line of svc and fails the test if any hostile value ran. It
// returns the results, one per line.
func RunAll(t *testing.T, svc *stack.Service) []Result {
	t.Helper()
	var rs []Result
	for _, l := range Lines(svc) {
		r := Run(t, l)
		if r.Pwned {
			t.Errorf("service %s: a hostile value ran in\n%s\noutput: %s", svc.Name, l, r.Output)
		}
		rs = append(rs, r)
	}
	return rs
}

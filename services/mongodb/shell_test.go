package mongodb_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Both health commands parse as shell.
func TestHealthCommandSyntax(t *testing.T) {
	for _, m := range []*mongodb.Server{
		mongodb.New(mongodb.Config{}),
		mongodb.New(mongodb.Config{ReplicaSet: "rs0", RootUser: "o'brien"}),
	} {
		out, err := exec.Command("sh", "-n", "-c", m.Health.Test[1]).CombinedOutput()
		assert.NoError(t, err, string(out))
	}
}

// fakeShell is a stand-in for the legacy `mongo` shell (cat(), no require) and for `mongosh`
// (require("fs"), no cat()), in Node.js: it logs its arguments, then runs the --eval script
// against fake db and rs objects that log what the script authenticates with and initiates.
const fakeShell = `#!/usr/bin/env node
const fs = require("fs"), vm = require("vm"), path = require("path");
const log = process.env.FAKE_LOG, calls = [];
const done = (code) => { fs.writeFileSync(log, JSON.stringify({argv: process.argv.slice(2), calls})); process.exit(code); };
const sandbox = {
  db: {getSiblingDB: (name) => ({auth: (user, pw) => { calls.push({auth: [name, user, pw]}); return 1; }})},
  rs: {status: () => ({ok: 0, code: 94}), initiate: (cfg) => { calls.push({initiate: cfg}); return {ok: 1}; }},
  quit: done,
};
if (path.basename(process.argv[1]) === "mongosh") sandbox.require = (m) => { if (m !== "fs") throw new Error(m); return fs; };
else sandbox.cat = (f) => fs.readFileSync(f, "latin1");
const i = process.argv.indexOf("--eval");
vm.runInNewContext(process.argv[i + 1], sandbox);
done(3);
`

// The replica-set health check reads the password inside the client: run through /bin/sh
// with a fake legacy shell and a fake mongosh, the password is in no argument (what `ps`
// shows), the script authenticates with the file's content (trailing newline stripped, as
// the image's entrypoint reads it), and a hostile user name or password runs nothing.
func TestHealthCommandReadsThePasswordInsideTheClient(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node on PATH")
	}
	const password = "s3cr'et\"$(echo>pwn)`echo>pwn`;echo>pwn"
	const user = "o'brien\"$(echo>pwn)`echo>pwn`;\necho>pwn"
	for _, client := range []string{"mongo", "mongosh"} {
		t.Run(client, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			require.NoError(t, os.Mkdir(bin, 0o755))
			shells := []string{"mongo"}
			if client == "mongosh" {
				shells = append(shells, "mongosh")
			}
			for _, s := range shells {
				require.NoError(t, os.WriteFile(filepath.Join(bin, s), []byte(fakeShell), 0o755))
			}
			pwFile := filepath.Join(dir, "pw")
			require.NoError(t, os.WriteFile(pwFile, []byte(password+"\n"), 0o400))
			logFile := filepath.Join(dir, "log.json")

			m := mongodb.New(mongodb.Config{Common: builder.Common{Name: "mongo0"}, ReplicaSet: "rs0", RootUser: user, Members: []string{"mongo0:27017", "mongo1:27017"}})
			require.Equal(t, "CMD-SHELL", m.Health.Test[0])
			script := strings.ReplaceAll(m.Health.Test[1], "/run/secrets/mongo0-root-password", pwFile)
			require.NotEqual(t, m.Health.Test[1], script, "the health check names the password file")
			cmd := exec.Command("/bin/sh", "-c", script)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "FAKE_LOG=" + logFile}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, string(out))

			var got struct {
				Argv  []string
				Calls []map[string]any
			}
			b, err := os.ReadFile(logFile)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &got))
			for _, a := range got.Argv {
				assert.NotContains(t, a, "s3cr'et", "the password must not be on the command line")
			}
			require.Len(t, got.Calls, 2, "%s", b)
			assert.Equal(t, []any{"admin", user, password}, got.Calls[0]["auth"])
			assert.Equal(t, map[string]any{"_id": "rs0", "members": []any{
				map[string]any{"_id": float64(0), "host": "mongo0:27017"},
				map[string]any{"_id": float64(1), "host": "mongo1:27017"},
			}}, got.Calls[1]["initiate"])
			_, err = os.Stat(filepath.Join(dir, "pwn"))
			assert.True(t, os.IsNotExist(err), "a hostile value ran a command")
		})
	}
}

// hostile values that a shell would run if they reached it unquoted.
var hostile = []string{"$(echo>pwn)", "`echo>pwn`", ";echo>pwn;", "\necho>pwn\n", "\"$(echo>pwn)\"", "'$(echo>pwn)'", "$HOME"}

// The connection URL a client builds in its shell percent-encodes every part: hostile user
// and database names come out as text, and nothing runs. Check refuses such database names.
func TestShellURLRunsNothing(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node on PATH")
	}
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw file")
	require.NoError(t, os.WriteFile(pwFile, []byte("p@ss$(echo>pwn)\n"), 0o400))
	for _, h := range hostile {
		c := mongodb.Conn{Host: "mongodb:27017", Database: "db" + h, User: "u" + h, PasswordSecret: "pw", ReplicaSet: "rs" + h}
		assert.Error(t, c.Check(), "database %q", c.Database)
		cmd := exec.Command("/bin/sh", "-c", `printf %s "`+c.ShellURL(pwFile)+`"`)
		cmd.Dir = dir
		out, err := cmd.Output()
		require.NoError(t, err, h)
		u := string(out)
		assert.True(t, strings.HasPrefix(u, "mongodb://u"), u)
		assert.Contains(t, u, ":p%40ss%24(echo%3Epwn)@mongodb:27017/db")
		for _, part := range []string{u[len("mongodb://"):strings.Index(u, "@")], u[strings.Index(u, "/db"):]} {
			assert.Equal(t, -1, strings.IndexAny(strings.SplitN(part, ":", 2)[0], "$`;'\"\n<> "), "unescaped character in %q", part)
		}
		_, err = os.Stat(filepath.Join(dir, "pwn"))
		require.True(t, os.IsNotExist(err), "value %q ran a command", h)
	}
	assert.NoError(t, mongodb.Conn{Host: "mongodb:27017", Database: "weacast-2_x"}.Check())
	assert.Error(t, mongodb.Conn{Host: "mongo$(x):27017", Database: "x"}.Check())
	assert.Error(t, mongodb.CheckDatabase(strings.Repeat("d", 64)))
}

package krawler_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kalisio/kargo/services/krawler"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The wrapper really exports the secret files' content and execs the command.
func TestShellCommandRuns(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tok, []byte("t0k'en $x"), 0o400))
	args := krawler.ShellCommand(`printf '%s|%s' "$METEO_FRANCE_TOKEN" "$CRON"`, krawler.FromFile("METEO_FRANCE_TOKEN", tok))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{"CRON=0 */10 * * * *", "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, "t0k'en $x|0 */10 * * * *", string(out))

	// A missing secret file stops the container instead of starting without it.
	args = krawler.ShellCommand("echo started", krawler.FromFile("APP_SECRET", filepath.Join(dir, "missing")))
	out, err = exec.Command(args[0], args[1:]...).Output()
	assert.Error(t, err)
	assert.NotContains(t, string(out), "started")
}

// The DB_URL built in the container percent-encodes the password (needs node, as the images).
func TestMongoURLInShell(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node on PATH")
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte("p@ss:w/rd#1\n"), 0o400))
	c := mongodb.New(mongodb.Config{}).Conn("weacast")
	args := krawler.ShellCommand(`printf %s "$DB_URL"`, krawler.SecretEnv{Name: "DB_URL", Value: c.ShellURL(pw)})
	out, err := exec.Command(args[0], args[1:]...).Output()
	require.NoError(t, err)
	assert.Equal(t, "mongodb://root:p%40ss%3Aw%2Frd%231@mongodb:27017/weacast?authSource=admin", string(out))
}

// The health check with a Slack webhook is valid shell.
func TestHealthShellSyntax(t *testing.T) {
	h := krawler.Health(krawler.HealthConfig{}, "/run/secrets/slack")
	require.Equal(t, "CMD-SHELL", h.Test[0])
	out, err := exec.Command("sh", "-n", "-c", h.Test[1]).CombinedOutput()
	assert.NoError(t, err, string(out))
}

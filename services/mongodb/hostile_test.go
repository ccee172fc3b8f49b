package mongodb_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kalisio/kargo/internal/shelltest"
	"github.com/kalisio/kargo/services/mongodb"
	"github.com/kalisio/kargo/stack"
	"github.com/stretchr/testify/assert"
)

// Hostile user names, members and replica set names reach the health check's shell line as
// text only: run through /bin/sh with stub shells, nothing they hold runs, and the client
// still receives the script. Names MongoDB or the builder refuse are reported by Validate.
func TestHostileValuesRunNothing(t *testing.T) {
	for _, h := range shelltest.Hostile {
		m := mongodb.New(mongodb.Config{ReplicaSet: "rs0", RootUser: "u" + h, Members: []string{"m" + h + ":27017"}})
		for _, r := range shelltest.RunAll(t, m.Service) {
			assert.NoError(t, r.Err, r.Output)
			assert.True(t, calledWithJSON(r, "mongosh", "m"+h+":27017"), "value %q: %v", h, r.Calls)
		}
		bad := mongodb.New(mongodb.Config{ReplicaSet: "rs" + h})
		shelltest.RunAll(t, bad.Service)
		assert.NotEmpty(t, bad.Problems, "replica set %q", h)
		if strings.ContainsAny(h, "\n") {
			assert.NotEmpty(t, m.Problems, "user %q", h)
		}
	}
	err := stack.New("t", mongodb.New(mongodb.Config{RootUser: "root\n"})).Validate()
	assert.ErrorContains(t, err, "services[mongodb].config.rootUser")
}

func calledWith(r shelltest.Result, name, sub string) bool {
	for _, c := range r.Calls {
		if c[0] == name && strings.Contains(strings.Join(c[1:], " "), sub) {
			return true
		}
	}
	return false
}

// calledWithJSON reports whether name ran with a script holding s as a JSON string.
func calledWithJSON(r shelltest.Result, name, s string) bool {
	return calledWith(r, name, strings.Trim(jsonString(s), `"`))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

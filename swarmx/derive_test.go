package swarmx_test

import (
	"bytes"
	"errors"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestRenderDerivedConfig: a derived config is made from another config's content, whose file
// Render reads once through its Source; a read error names the stack and the file's config.
func TestRenderDerivedConfig(t *testing.T) {
	reads := map[string]int{}
	src := swarmx.Source{ReadFile: func(p string) ([]byte, error) {
		reads[p]++
		if p == "cert.pem" {
			return []byte("host=maps.example.org"), nil
		}
		return nil, fs.ErrNotExist
	}}
	build := func(file string) *stack.Stack {
		return stack.New("site", &stack.Service{Name: "web", Image: "example/web:1",
			Configs: []stack.FileRef{{Source: "cert", Target: "/cert"}, {Source: "conf", Target: "/conf"}},
			Declares: stack.Objects{Configs: []stack.Config{
				{Name: "cert", File: file},
				{Name: "conf", Derive: &stack.Derivation{From: "cert", Make: func(from []byte) ([]byte, error) {
					return append([]byte("server "), bytes.TrimPrefix(from, []byte("host="))...), nil
				}}},
			}}})
	}
	d, err := swarmx.Render(build("cert.pem"), src)
	require.NoError(t, err)
	var conf string
	for _, c := range d.Configs {
		if c.Logical == "conf" {
			conf = string(c.Spec.Data)
		}
	}
	assert.Equal(t, "server maps.example.org", conf)
	assert.Equal(t, 1, reads["cert.pem"], "the file is read once")

	_, err = swarmx.Render(build("missing.pem"), src)
	var re *swarmx.RenderError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "site", re.Stack)
	assert.Equal(t, "configs[cert].file", re.Path)
	assert.True(t, errors.Is(err, fs.ErrNotExist))

	fail := build("cert.pem")
	fail.Services[0].Declares.Configs[1].Derive.Make = func([]byte) ([]byte, error) { return nil, errors.New("no host") }
	_, err = swarmx.Render(fail, src)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "configs[conf].derive", re.Path)

	bad := build("cert.pem")
	bad.Services[0].Declares.Configs[1].Derive.From = "nothing"
	err = bad.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "configs[conf].derive")
}

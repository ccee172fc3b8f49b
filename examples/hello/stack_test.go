package main

// Unit tests of the hello stack: rendered without an engine.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/kargotest"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStackRenders(t *testing.T) {
	r := kargotest.Render(t, Stack())
	assert.Equal(t, []string{"greeter", "web"}, r.Services())
	assert.Equal(t, []string{"hello_default"}, r.Networks())
	assert.Equal(t, []string{"hello_visits"}, r.Volumes())

	web := r.Service("web")
	assert.Equal(t, WebImage, web.Image())
	assert.Equal(t, []kargotest.Port{{Target: 80, Published: 18080, Protocol: "tcp", Mode: "host"}}, web.Ports())
	assert.Equal(t, "http://greeter:8080", web.Env("GREETER_URL"))
	assert.Equal(t, map[string]string{"api_token": "/run/secrets/api_token"}, web.SecretTargets())

	greeter := r.Service("greeter")
	assert.Equal(t, GreeterImage, greeter.Image())
	assert.Empty(t, greeter.Ports(), "the greeter is reached over the overlay network only")
	assert.Equal(t, "world", greeter.Env("HELLO_NAME"))
	assert.Equal(t, []string{"/etc/hello/greeting.txt"}, greeter.ConfigTargets())
	assert.Equal(t, "hello_visits", greeter.Mount("/var/lib/hello").Source)
	assert.Equal(t, 2*time.Second, greeter.Health().Interval)
	// dnsrr endpoints (no IPVS) and an update monitor long enough to see a failing health check.
	assert.Equal(t, "dnsrr", string(greeter.Spec().EndpointSpec.Mode))
	assert.Equal(t, 10*time.Second, greeter.Spec().UpdateConfig.Monitor)
	assert.Equal(t, "rollback", string(greeter.Spec().UpdateConfig.FailureAction))

	d, ok := r.Desired.Service("web")
	require.True(t, ok)
	assert.Equal(t, []string{"greeter"}, d.DependsOn)
	assert.Equal(t, [][]string{{"greeter"}, {"web"}}, levelNames(swarmx.Levels(r.Desired.Services)))
}

func levelNames(levels [][]swarmx.Service) [][]string {
	var out [][]string
	for _, l := range levels {
		var names []string
		for _, s := range l {
			names = append(names, s.Logical)
		}
		out = append(out, names)
	}
	return out
}

func TestConfigChangesOnlyWhatItSays(t *testing.T) {
	base := kargotest.Render(t, Stack())
	other := kargotest.Render(t, New(Config{Name: "hi", Port: 18090, Greeting: "Bonjour", Who: "kargo"}))
	assert.Equal(t, []kargotest.Port{{Target: 80, Published: 18090, Protocol: "tcp", Mode: "host"}}, other.Service("web").Ports())
	assert.Equal(t, "kargo", other.Service("greeter").Env("HELLO_NAME"))
	assert.Equal(t, "hi_greeter", other.Service("greeter").Name())
	// Another greeting is another config object (configs are immutable in Swarm).
	assert.NotEqual(t, base.Desired.Configs[0].Name, other.Desired.Configs[0].Name)
	assert.Equal(t, []byte("Bonjour\n"), other.Desired.Configs[0].Spec.Data)
}

func TestImagesAreRegistered(t *testing.T) {
	for _, ref := range []string{WebImage, GreeterImage} {
		img, ok := images.Lookup(ref)
		require.True(t, ok, ref)
		files, err := img.Context(context.Background())
		require.NoError(t, err)
		require.Contains(t, files, "Dockerfile", ref)
		assert.Contains(t, string(files["Dockerfile"].Data), "FROM debian:bookworm-slim", ref)
		assert.Equal(t, int64(0o755), files["run.sh"].Mode, ref)
		assert.NotContains(t, files, "TAG", ref)
	}
	img, _ := images.Lookup(WebImage)
	files, err := img.Context(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(0o755), files["www/cgi-bin/greet"].Mode)
	assert.Equal(t, int64(0o644), files["www/index.html"].Mode)
}

func TestStackIsValid(t *testing.T) {
	kargotest.Valid(t, Stack())
	st := New(Config{Name: "Bad Name"})
	require.Error(t, st.Validate())
	var ve *stack.ValidationError
	assert.ErrorAs(t, st.Validate(), &ve)
}

// The example as a deploy program: `hello plan`, `hello apply`, ... run kargo.Main(Stack()).
// Rendered without an engine, the stack is a web front depending on a greeter.
func ExampleNew() {
	d, err := swarmx.Render(New(Config{Name: "hello", Port: 18080}), swarmx.Source{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range d.Services {
		fmt.Println(s.Name, s.Spec.TaskTemplate.ContainerSpec.Image, s.DependsOn)
	}
	// Output:
	// hello_greeter hello/greeter:1 []
	// hello_web hello/web:1 [greeter]
}

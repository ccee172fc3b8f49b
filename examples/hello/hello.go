// Command hello deploys a tiny two-service stack on Docker Swarm with Kargo: a web front
// (BusyBox httpd, published on a host port) that asks a greeter backend over the stack's
// overlay network. Both images are built locally from Debian packages; their build contexts
// are embedded in this program and registered with images.Register, so `hello apply` builds
// them when they are missing — the way to ship your own images with a deploy program.
//
//	go run ./examples/hello apply     # build the images, create the stack, wait until it runs
//	curl 127.0.0.1:18080/cgi-bin/greet
//	go run ./examples/hello status
//	go run ./examples/hello rm --volumes
package main

import (
	"context"
	"embed"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/stack"
)

//go:embed all:contexts
var contexts embed.FS

// Images of the example, built from the embedded contexts/<name>/ directories.
var (
	WebImage     = image("web")
	GreeterImage = image("greeter")
)

// image returns the reference of contexts/<name> (hello/<name>:<TAG>) and registers its build
// context, so the images.Builder used by `apply` and `build` knows how to make it.
func image(name string) string {
	tag, err := fs.ReadFile(contexts, path.Join("contexts", name, "TAG"))
	if err != nil {
		panic("hello: no embedded context for " + name) // the contexts are part of this program
	}
	ref := "hello/" + name + ":" + strings.TrimSpace(string(tag))
	root := path.Join("contexts", name)
	images.Register(images.Image{Ref: ref, Context: func(context.Context) (map[string]images.File, error) {
		return contextFiles(root)
	}})
	return ref
}

// contextFiles reads an embedded build context; scripts (run.sh, CGI programs) are executable.
func contextFiles(root string) (map[string]images.File, error) {
	files := map[string]images.File{}
	err := fs.WalkDir(contexts, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		if rel == "TAG" {
			return nil
		}
		b, err := fs.ReadFile(contexts, p)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if strings.HasSuffix(rel, ".sh") || strings.Contains(rel, "/cgi-bin/") {
			mode = 0o755
		}
		files[rel] = images.File{Data: b, Mode: mode}
		return nil
	})
	return files, err
}

// Config tunes the example stack; the zero value is the stack `hello` on port 18080.
type Config struct {
	// Name of the stack (default "hello").
	Name string
	// Port is the host port the web front is published on (default 18080).
	Port uint32
	// Greeting is the content of the greeter's config file (default "Hello").
	Greeting string
	// Who is the greeter's HELLO_NAME env var (default "world").
	Who string
}

// Stack is the example stack with its defaults.
func Stack() *stack.Stack { return New(Config{}) }

// New returns the stack: the greeter backend with its API token secret, greeting config and
// visits volume, and the web front that depends on it.
func New(c Config) *stack.Stack {
	if c.Name == "" {
		c.Name = "hello"
	}
	if c.Port == 0 {
		c.Port = 18080
	}
	if c.Greeting == "" {
		c.Greeting = "Hello"
	}
	if c.Who == "" {
		c.Who = "world"
	}
	// A random token generated on the first apply and kept afterwards; both services mount it.
	token := stack.Secret{Name: "api_token", Generate: 32}
	greeting := stack.Config{Name: "greeting", Data: []byte(c.Greeting + "\n")}
	visits := stack.Volume{Name: "visits"}

	greeter := &stack.Service{
		Name:  "greeter",
		Image: GreeterImage,
		Env:   map[string]string{"HELLO_NAME": c.Who},
		Mounts: []stack.Mount{
			{Source: visits.Name, Target: "/var/lib/hello"},
		},
		Secrets: []stack.FileRef{{Source: token.Name}},
		Configs: []stack.FileRef{{Source: greeting.Name, Target: "/etc/hello/greeting.txt"}},
		Health:  httpHealth("http://127.0.0.1:8080/health"),
		Resources: stack.Resources{CPULimit: 0.25, MemoryLimit: 32 * stack.MiB,
			MemoryReservation: 8 * stack.MiB},
		Endpoints: []stack.Endpoint{{Kind: stack.HTTP, Port: 8080, Path: "/health"}},
	}
	web := &stack.Service{
		Name:      "web",
		Image:     WebImage,
		Env:       map[string]string{"GREETER_URL": "http://greeter:8080"},
		Ports:     []stack.Port{{Target: 80, Published: c.Port}},
		Secrets:   []stack.FileRef{{Source: token.Name}},
		Health:    httpHealth("http://127.0.0.1:80/"),
		DependsOn: []string{greeter.Name},
		Resources: stack.Resources{CPULimit: 0.25, MemoryLimit: 32 * stack.MiB,
			MemoryReservation: 8 * stack.MiB},
		Endpoints: []stack.Endpoint{{Kind: stack.HTTP, Port: 80, Path: "/", Public: "/"}},
	}
	return stack.New(c.Name, token, greeting, visits, greeter, web)
}

// httpHealth checks a URL inside the container with BusyBox wget (without -T: Debian's
// BusyBox 1.35 wget crashes with it; the health check's Timeout bounds the call). The short
// interval keeps Swarm's update monitor window (derived from it) near its 10s floor, so a bad
// update is detected and rolled back quickly.
func httpHealth(url string) *stack.Health {
	return &stack.Health{
		Test:     []string{"CMD", "busybox", "wget", "-q", "-O", "/dev/null", url},
		Interval: 2 * time.Second, Timeout: 3 * time.Second, Retries: 3,
	}
}

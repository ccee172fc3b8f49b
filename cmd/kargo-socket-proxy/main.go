// Command kargo-socket-proxy stands between a service of a Kargo stack and the Docker Engine
// socket: it allows the Engine API calls of one profile, confined to one stack, and answers
// every other call 403 Forbidden (see package github.com/kalisio/kargo/internal/socketproxy
// for the rules). It runs as a service on a manager node with the socket bind-mounted, on an
// internal network that only its client joins.
//
//	kargo-socket-proxy serve    listen and proxy (default)
//	kargo-socket-proxy health   exit 0 when the proxy answers and reaches the engine
//
// Environment: KARGO_STACK (the stack, required), KARGO_PROXY_PROFILE (default "scheduler"),
// KARGO_PROXY_LISTEN (default ":2375"), KARGO_PROXY_SOCKET (default /var/run/docker.sock).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kalisio/kargo/internal/socketproxy"
)

func main() {
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve()
	case "health":
		err = health(listenAddr())
	default:
		fmt.Fprintf(os.Stderr, "usage: kargo-socket-proxy [serve|health]\n")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kargo-socket-proxy:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func listenAddr() string { return env("KARGO_PROXY_LISTEN", ":2375") }

// config reads the proxy's configuration from the environment.
func config() (*socketproxy.Proxy, error) {
	stackName := os.Getenv("KARGO_STACK")
	if stackName == "" {
		return nil, errors.New("KARGO_STACK is not set")
	}
	name := env("KARGO_PROXY_PROFILE", socketproxy.ProfileScheduler)
	profile, ok := socketproxy.Profiles[name]
	if !ok {
		return nil, fmt.Errorf("KARGO_PROXY_PROFILE: unknown profile %q (known: %s)", name, strings.Join(socketproxy.ProfileNames(), ", "))
	}
	engine, base := socketproxy.UnixEngine(env("KARGO_PROXY_SOCKET", "/var/run/docker.sock"))
	return &socketproxy.Proxy{Engine: engine, EngineURL: base, Stack: stackName, Profile: profile, Log: os.Stdout}, nil
}

func serve() error {
	p, err := config()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              listenAddr(),
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	fmt.Printf("kargo-socket-proxy: stack %q, profile %s, listening on %s; allowed:\n  %s\n",
		p.Stack, p.Profile.Name, srv.Addr, strings.Join(p.Profile.Describe(), "\n  "))
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// health pings the engine through the proxy listening on addr.
func health(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("KARGO_PROXY_LISTEN %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	c := &http.Client{Timeout: 4 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(host, port) + "/_ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping through the proxy: %s: %s", resp.Status, b)
	}
	return nil
}

// Command kargo-scheduler re-runs the scheduled job services of one Kargo stack on their cron
// schedules. It runs as the "scheduler" service of the stack (see package
// github.com/kalisio/kargo/services/scheduler), as an unprivileged user with no Docker socket:
// DOCKER_HOST points it at the stack's socket proxy (cmd/kargo-socket-proxy), which allows only
// the calls it makes, and KARGO_STACK names the stack.
//
//	kargo-scheduler run      watch and run the jobs (default)
//	kargo-scheduler health   exit 0 when the run loop wrote its heartbeat recently
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
	// The image is FROM scratch: without the embedded time zone database, a
	// "CRON_TZ=Europe/Paris ..." schedule would fail to load its zone.
	_ "time/tzdata"

	"github.com/kalisio/kargo/internal/schedrun"
	"github.com/moby/moby/client"
)

// heartbeat is touched by the run loop; the health check reads its modification time.
const heartbeat = "/run/kargo/heartbeat"

// staleAfter is the age past which the heartbeat fails the health check: the run loop beats
// at least every schedrun.MaxHeartbeatInterval (20 s), whatever its refresh and schedules,
// so this allows two missed beats.
const staleAfter = 3 * schedrun.MaxHeartbeatInterval

func main() {
	cmd := "run"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	switch cmd {
	case "run":
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, "kargo-scheduler:", err)
			os.Exit(1)
		}
	case "health":
		if err := health(heartbeat, time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, "kargo-scheduler:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "usage: kargo-scheduler [run|health]\n")
		os.Exit(2)
	}
}

func run() error {
	stackName := os.Getenv(schedrun.EnvStack)
	if stackName == "" {
		return fmt.Errorf("%s is not set", schedrun.EnvStack)
	}
	refresh := 5 * time.Second
	if v := os.Getenv("KARGO_SCHEDULER_REFRESH"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("KARGO_SCHEDULER_REFRESH: %w", err)
		}
		refresh = d
	}
	c, err := client.New(client.FromEnv)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &schedrun.Runner{Client: c, Stack: stackName, Log: os.Stdout, Refresh: refresh, Heartbeat: beat}
	if addr := os.Getenv(schedrun.EnvMetrics); addr != "" {
		srv := &http.Server{Addr: addr, Handler: metricsHandler(r), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintln(os.Stderr, "kargo-scheduler: metrics:", err)
			}
		}()
		defer srv.Close()
	}
	return r.Run(ctx)
}

// metricsHandler serves the Runner's metrics at /metrics (503 with the error when the engine
// does not answer, so Prometheus marks the target down).
func metricsHandler(r *schedrun.Runner) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		var b bytes.Buffer
		if err := r.WriteMetrics(ctx, &b); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write(b.Bytes())
	})
	return mux
}

// health fails when the heartbeat file at path is missing or older than staleAfter at now.
func health(path string, now time.Time) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("no heartbeat: %w", err)
	}
	if age := now.Sub(fi.ModTime()); age > staleAfter {
		return fmt.Errorf("no recent heartbeat: the last one is %s old (limit %s)", age.Round(time.Second), staleAfter)
	}
	return nil
}

// beat touches the heartbeat file; the run loop calls it at least every
// schedrun.MaxHeartbeatInterval.
func beat() {
	if f, err := os.Create(heartbeat); err == nil {
		f.Close()
	}
}

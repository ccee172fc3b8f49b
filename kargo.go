// Package kargo turns a Go program that describes a geospatial infrastructure into a command
// line tool that deploys it on Docker Swarm.
//
//	func main() {
//		db := postgis.New(postgis.Config{Common: builder.Common{Name: "db"}})
//		kargo.Main(stack.New("maps", db))
//	}
//
// The program then answers `validate`, `plan`, `apply`, `status`, `rm`, `render`, `logs`, `build`,
// `drain`, `undrain` and `metrics`, and `backup` and `restore` when the stack has a backup job
// (package services/pgbackup). Run is the testable core of Main.
package kargo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// Exit codes of Main.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	// ExitInterrupted is the code of a command stopped by SIGINT or SIGTERM (128 + SIGINT).
	ExitInterrupted = 130
)

// InterruptedError is a command stopped by SIGINT or SIGTERM. What apply had submitted stays
// with Swarm, which carries on; the next apply takes it over and converges.
type InterruptedError struct {
	// Err is what the command was doing when it was stopped.
	Err error
}

// Error says the command was interrupted and what it was doing.
func (e *InterruptedError) Error() string {
	return "interrupted: " + e.Err.Error() + " (what was submitted stays with Swarm; apply again to finish)"
}

// Unwrap returns Err.
func (e *InterruptedError) Unwrap() error { return e.Err }

// Engine is what the CLI needs of a Docker Engine client; *client.Client satisfies it.
type Engine interface {
	swarmx.Client
	swarmx.LogsClient
}

// Options let tests and embedding tools replace the CLI's edges.
type Options struct {
	// Stdout and Stderr default to the process's.
	Stdout, Stderr io.Writer
	// Engine connects to the Docker Engine (default: DOCKER_HOST / docker context, with API
	// version negotiation).
	Engine func() (Engine, error)
	// Images provides local images before apply (default: none; see package images).
	Images swarmx.ImageEnsurer
	// Source resolves secrets and configs given by file or env var.
	Source swarmx.Source
	// Ready checks a converged service with OGC endpoints during apply (default: ogc.Ready on
	// the engine's host, which asks GetCapabilities on published ports and checks the layers).
	Ready func(ctx context.Context, s swarmx.Service) error
}

// UsageError is a bad command line or an invalid stack; Main exits with code 2 for it.
type UsageError struct {
	// Err says what is wrong with the usage (an unknown flag, a missing argument...).
	Err error
}

// Error returns the message of Err.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *UsageError) Unwrap() error { return e.Err }

// Main runs the CLI on os.Args for the stack and exits: 0 on success, 1 on failure, 2 on bad
// usage or an invalid stack.
func Main(st *stack.Stack, opts ...func(*Options)) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var o Options
	for _, f := range opts {
		f(&o)
	}
	err := Run(ctx, os.Args[1:], st, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kargo:", err)
	}
	os.Exit(ExitCode(err))
}

// ExitCode maps an error returned by Run to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ie *InterruptedError
	if errors.As(err, &ie) {
		return ExitInterrupted
	}
	var ue *UsageError
	var ve *stack.ValidationError
	var re *swarmx.RenderError
	if errors.As(err, &ue) || errors.As(err, &ve) || errors.As(err, &re) {
		return ExitUsage
	}
	return ExitFailure
}

// Run executes one CLI invocation (args without the program name) for the stack.
func Run(ctx context.Context, args []string, st *stack.Stack, o Options) error {
	// The scheduler's images are compiled from this module: build, apply and render know them.
	scheduler.RegisterImages()
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Engine == nil {
		o.Engine = func() (Engine, error) {
			c, err := swarmx.NewClient()
			if err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	if st == nil {
		return &UsageError{Err: errors.New("no stack given")}
	}
	cmd := newRoot(st, &o)
	markRunErrors(cmd)
	cmd.SetArgs(args)
	cmd.SetOut(o.Stdout)
	cmd.SetErr(o.Stderr)
	err := cmd.ExecuteContext(ctx)
	var re *runError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re) && ctx.Err() != nil:
		return &InterruptedError{Err: re.err}
	case errors.As(err, &re):
		return re.err
	default:
		// Cobra's own errors: unknown command or flag, wrong number of arguments.
		return &UsageError{Err: err}
	}
}

// runError carries an error returned by a command's RunE, so that Run tells it apart from
// cobra's usage errors (which come before any RunE).
type runError struct{ err error }

// Error returns the message of the wrapped error.
func (e *runError) Error() string { return e.err.Error() }

// markRunErrors wraps the RunE of every command so its errors are runErrors.
func markRunErrors(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if err := run(c, args); err != nil {
				return &runError{err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		markRunErrors(sub)
	}
}

type cli struct {
	st     *stack.Stack
	o      *Options
	output string
}

func newRoot(st *stack.Stack, o *Options) *cobra.Command {
	c := &cli{st: st, o: o}
	name := "kargo"
	if st != nil && st.Name != "" {
		name = st.Name
	}
	root := &cobra.Command{
		Use:           name,
		Short:         "Deploy and operate the " + name + " stack on Docker Swarm",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: "Deploy and operate the " + name + " stack on Docker Swarm.\n\n" +
			"The engine is the one DOCKER_HOST (or the current docker context) names.",
	}
	root.AddCommand(c.planCmd(), c.applyCmd(), c.statusCmd(), c.rmCmd(), c.renderCmd(), c.logsCmd(), c.validateCmd(), c.buildCmd())
	root.AddCommand(c.drainCmd(), c.undrainCmd())
	c.registryFlag(root)
	root.AddCommand(c.backupCmd(), c.restoreCmd(), c.metricsCmd())
	return root
}

// applier connects to the engine. plan and apply render (and so validate) the whole stack
// before they call it, so an invalid stack never reaches the engine and is normalised once;
// status, rm and logs only need its name, so they still work on a stack a bad edit made
// invalid.
func (c *cli) applier() (*swarmx.Applier, Engine, error) {
	if strings.TrimSpace(c.st.Name) == "" {
		return nil, nil, &UsageError{Err: errors.New("the stack has no name")}
	}
	e, err := c.o.Engine()
	if err != nil {
		return nil, nil, err
	}
	imgs := c.o.Images
	if imgs == nil {
		if ic, ok := e.(images.Client); ok {
			imgs = &images.Builder{Client: ic}
		}
	}
	ready := c.o.Ready
	if ready == nil {
		host := os.Getenv("DOCKER_HOST")
		if dh, ok := e.(interface{ DaemonHost() string }); ok {
			host = dh.DaemonHost() // resolved from DOCKER_HOST or the docker context
		}
		ready = nodeReady(e, probeHost(host))
	}
	return &swarmx.Applier{Client: e, Source: c.o.Source, Progress: c.o.Stderr, Images: imgs, Ready: ready}, e, nil
}

// probeHost is the address where the engine's published host-mode ports answer: the host of
// a tcp:// or ssh:// engine address, else the local machine.
func probeHost(dockerHost string) string {
	u, err := url.Parse(dockerHost)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "ssh" && u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "127.0.0.1"
	}
	return u.Hostname()
}

func (c *cli) buildCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "build [IMAGE...]",
		Short: "Build the Kargo images the stack uses (or the ones named, or --all), even if present",
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.o.Engine()
			if err != nil {
				return err
			}
			ic, ok := e.(images.Client)
			if !ok {
				return errors.New("this engine client cannot build images")
			}
			refs := args
			switch {
			case all:
				refs = images.Known()
			case len(refs) == 0:
				d, err := swarmx.Render(c.st, c.o.Source)
				if err != nil {
					return err
				}
				for _, s := range d.Services {
					img := s.Spec.TaskTemplate.ContainerSpec.Image
					if isKargoImage(img) && !slices.Contains(refs, img) {
						refs = append(refs, img)
					}
				}
			}
			b := &images.Builder{Client: ic}
			for _, ref := range refs {
				ref = images.InRegistry(c.st.Registry, ref)
				if !isKargoImage(ref) {
					return &UsageError{Err: fmt.Errorf("%s is not a Kargo image (known: %s)", ref, strings.Join(images.Known(), ", "))}
				}
				if err := b.Build(cmd.Context(), ref, c.o.Stderr); err != nil {
					return err
				}
				fmt.Fprintln(c.o.Stdout, ref)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "build every image Kargo knows")
	return cmd
}

func (c *cli) checkOutput() error {
	if c.output != "text" && c.output != "json" {
		return &UsageError{Err: fmt.Errorf("--output must be text or json, got %q", c.output)}
	}
	return nil
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.o.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the stack without contacting the engine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.st.Validate(); err != nil {
				return err
			}
			fmt.Fprintf(c.o.Stdout, "stack %s is valid (%d services)\n", c.st.Name, len(c.st.Services))
			return nil
		},
	}
}

func (c *cli) planCmd() *cobra.Command {
	return c.withOutput(&cobra.Command{
		Use:   "plan",
		Short: "Show what apply would create, update or delete",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			d, err := swarmx.Render(c.st, c.o.Source)
			if err != nil {
				return err
			}
			a, _, err := c.applier()
			if err != nil {
				return err
			}
			p, err := a.PlanDesired(cmd.Context(), d)
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(p)
			}
			_, err = io.WriteString(c.o.Stdout, p.String())
			return err
		},
	})
}

func (c *cli) applyCmd() *cobra.Command {
	var opts swarmx.ApplyOptions
	wait := true
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Create or update the stack and wait until it converges",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			d, err := swarmx.Render(c.st, c.o.Source)
			if err != nil {
				return err
			}
			a, _, err := c.applier()
			if err != nil {
				return err
			}
			opts.NoWait = !wait
			res, err := a.ApplyDesired(cmd.Context(), d, opts)
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(res)
			}
			n := 0
			var brought []string
			for _, act := range res.Plan.Changes() {
				if act.Op == swarmx.Converge {
					brought = append(brought, act.Name)
				} else {
					n++
				}
			}
			fmt.Fprintf(c.o.Stdout, "stack %s applied: %d change(s), %d engine call(s)", c.st.Name, n, res.Mutations)
			if len(brought) > 0 {
				fmt.Fprintf(c.o.Stdout, "; not converged before, converged now: %s", strings.Join(brought, ", "))
			}
			fmt.Fprintln(c.o.Stdout)
			return nil
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until every service converges")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "how long to wait for each service")
	cmd.Flags().BoolVar(&opts.Prune, "prune", false, "remove services and networks no longer in the stack")
	return c.withOutput(cmd)
}

// withOutput adds the --output flag to the commands whose result has a json form.
func (c *cli) withOutput(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().StringVarP(&c.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func (c *cli) statusCmd() *cobra.Command {
	return c.withOutput(&cobra.Command{
		Use:   "status",
		Short: "Show each service's tasks, health, last error and published ports",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			a, e, err := c.applier()
			if err != nil {
				return err
			}
			sts, err := a.Status(cmd.Context(), c.st.Name)
			if err != nil {
				return err
			}
			c.probeEndpoints(cmd.Context(), a, sts)
			backups := c.backupStatuses(cmd.Context(), e, sts)
			if c.output == "json" {
				return c.printJSON(withBackups(sts, backups))
			}
			tw := tabwriter.NewWriter(c.o.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tMODE\tTASKS\tHEALTH\tNODES\tPORTS\tENDPOINTS\tLAST RUN\tNOTE")
			for _, s := range sts {
				tasks := fmt.Sprintf("%d/%d", s.Running, s.Desired)
				if stack.Mode(s.Mode).IsJob() {
					tasks = fmt.Sprintf("%d/%d done", s.Completed, s.Desired)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Mode, tasks, s.Health,
					strings.Join(s.Nodes, ","), strings.Join(s.Ports, ","), s.Endpoints, lastRunText(s), s.LastError)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			c.printBackups(backups)
			return nil
		},
	})
}

// lastRunText is the LAST RUN cell of a scheduled job in `status`: its last run's time and
// result, "not yet" before the first run, then its next run when known, e.g.
// "2026-11-25T03:00:00Z succeeded (next 2026-11-26T03:00:00Z)". It is empty for a service
// without a schedule. Missing parts leave no stray spaces.
func lastRunText(s swarmx.ServiceStatus) string {
	if s.Schedule == "" {
		return ""
	}
	var parts []string
	for _, p := range []string{s.LastRun, s.LastResult} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "not yet")
	}
	if s.NextRun != "" {
		parts = append(parts, "(next "+s.NextRun+")")
	}
	return strings.Join(parts, " ")
}

// probeEndpoints asks the readiness check of every running service with OGC endpoints
// (GetCapabilities answers and lists the layers) and notes the answer in its status.
func (c *cli) probeEndpoints(ctx context.Context, a *swarmx.Applier, sts []swarmx.ServiceStatus) {
	if a.Ready == nil {
		return
	}
	d, err := swarmx.Render(c.st, c.o.Source)
	if err != nil {
		return
	}
	for i := range sts {
		for _, s := range d.Services {
			if s.Name != sts[i].Name || len(s.Endpoints) == 0 || sts[i].Running == 0 || !publishesHostPort(s) {
				continue // unpublished endpoints are checked by the service's health check
			}
			pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			if err := a.Ready(pctx, s); err != nil {
				sts[i].Endpoints = "failing: " + strings.ReplaceAll(err.Error(), "\n", "; ")
			} else {
				sts[i].Endpoints = "ready"
			}
			cancel()
		}
	}
}

func publishesHostPort(s swarmx.Service) bool {
	if s.Spec.EndpointSpec == nil {
		return false
	}
	for _, p := range s.Spec.EndpointSpec.Ports {
		if p.PublishMode == swarm.PortConfigPublishModeHost && p.PublishedPort != 0 {
			return true
		}
	}
	return false
}

func (c *cli) rmCmd() *cobra.Command {
	var opts swarmx.RemoveOptions
	cmd := &cobra.Command{
		Use:   "rm",
		Short: "Remove the stack's services, networks, secrets and configs (volumes and the secrets Kargo generated only with --volumes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, _, err := c.applier()
			if err != nil {
				return err
			}
			if err := a.Remove(cmd.Context(), c.st.Name, opts); err != nil {
				return err
			}
			fmt.Fprintf(c.o.Stdout, "stack %s removed\n", c.st.Name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Volumes, "volumes", false, "also remove the stack's volumes (data is lost) and its generated secrets")
	return cmd
}

func (c *cli) renderCmd() *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print the Swarm specs (json) or a compose file for docker stack deploy (compose)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := swarmx.Render(c.st, c.o.Source)
			if err != nil {
				return err
			}
			switch format {
			case "json":
				return c.printJSON(d.Redacted())
			case "compose":
				if out == "" {
					return &UsageError{Err: errors.New("render --format compose needs --out DIR (secrets and configs are written beside the compose file)")}
				}
				file, err := swarmx.WriteCompose(d, out)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.o.Stdout, "%s\ndeploy with: docker stack deploy --resolve-image never -c %s %s\n", file, file, d.Stack)
				return nil
			default:
				return &UsageError{Err: fmt.Errorf("--format must be json or compose, got %q", format)}
			}
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "json or compose")
	cmd.Flags().StringVar(&out, "out", "", "directory for the compose file and its secret and config files")
	return cmd
}

func (c *cli) logsCmd() *cobra.Command {
	var follow bool
	var tail string
	cmd := &cobra.Command{
		Use:   "logs SERVICE",
		Short: "Print a service's logs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.st.Service(args[0]) == nil {
				return &UsageError{Err: fmt.Errorf("stack %q has no service %q", c.st.Name, args[0])}
			}
			_, e, err := c.applier()
			if err != nil {
				return err
			}
			return swarmx.Logs(cmd.Context(), e, c.st.Name, args[0], follow, tail, c.o.Stdout)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the logs")
	cmd.Flags().StringVar(&tail, "tail", "all", "number of lines from the end")
	return cmd
}

var _ Engine = (*client.Client)(nil)

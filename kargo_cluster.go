package kargo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/ogc"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// registryFlag adds --registry (default $KARGO_REGISTRY) to every command: when set, it
// replaces the stack's Registry, so Kargo's images are pushed there and services refer to
// them there (see stack.Stack.Registry).
func (c *cli) registryFlag(root *cobra.Command) {
	var registry string
	root.PersistentFlags().StringVar(&registry, "registry", os.Getenv("KARGO_REGISTRY"),
		"registry (host[:port]) every node pulls Kargo's images from; build and apply push them there (default $KARGO_REGISTRY)")
	root.PersistentPreRun = func(*cobra.Command, []string) {
		if registry != "" {
			c.st.Registry = registry
		}
	}
}

// isKargoImage reports whether Kargo builds ref, directly or behind a registry.
func isKargoImage(ref string) bool {
	if _, ok := images.Lookup(ref); ok {
		return true
	}
	_, _, ok := images.Local(ref)
	return ok
}

// nodeReady is the readiness check of an engine reached over a unix socket: published
// host-mode ports answer on the address the node advertises to its Swarm (127.0.0.1 for the
// local single-node Swarm, 10.199.0.1 for the manager of scripts/local-cluster.sh), asked
// once, on first use. Other engines are probed at fallback (the host of DOCKER_HOST).
func nodeReady(e Engine, fallback string) func(ctx context.Context, s swarmx.Service) error {
	var once sync.Once
	var ready func(ctx context.Context, s swarmx.Service) error
	return func(ctx context.Context, s swarmx.Service) error {
		once.Do(func() {
			host := fallback
			if info, ok := e.(interface {
				Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error)
			}); ok && fallback == "127.0.0.1" {
				if r, err := info.Info(ctx, client.InfoOptions{}); err == nil {
					if addr := net.ParseIP(r.Info.Swarm.NodeAddr); addr != nil && !addr.IsUnspecified() {
						host = addr.String()
					}
				}
			}
			ready = ogc.Ready(host, nil)
		})
		return ready(ctx, s)
	}
}

func (c *cli) nodeClient() (*swarmx.Applier, swarmx.NodeClient, error) {
	a, e, err := c.applier()
	if err != nil {
		return nil, nil, err
	}
	nc, ok := e.(swarmx.NodeClient)
	if !ok {
		return nil, nil, errors.New("this engine client cannot manage nodes")
	}
	return a, nc, nil
}

func (c *cli) drainCmd() *cobra.Command {
	timeout := 5 * time.Minute
	cmd := &cobra.Command{
		Use:   "drain NODE",
		Short: "Drain a node (hostname or ID): wait until the stack's tasks run elsewhere and its endpoints answer",
		Long: "Drain a node: Swarm stops its tasks and starts them on other nodes. drain waits until no task\n" +
			"of the stack runs on the node, every service has all its tasks running and every published\n" +
			"OGC endpoint answers, then reports. `undrain NODE` makes the node available again.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, _, err := c.nodeClient()
			if err != nil {
				return err
			}
			rep, err := a.Drain(cmd.Context(), c.st.Name, args[0], timeout)
			if err != nil {
				return err
			}
			// Endpoints: the gateway of a drained node is gone; readiness asks the engine's node.
			deadline := time.Now().Add(timeout - rep.Elapsed)
			for {
				c.probeEndpoints(cmd.Context(), a, rep.Services)
				failing := ""
				for _, s := range rep.Services {
					if strings.HasPrefix(s.Endpoints, "failing") {
						failing = s.Name + ": " + s.Endpoints
					}
				}
				if failing == "" {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("node %s drained, but %s", rep.Node, failing)
				}
				time.Sleep(time.Second)
				if rep.Services, err = a.Status(cmd.Context(), c.st.Name); err != nil {
					return err
				}
			}
			fmt.Fprintf(c.o.Stdout, "node %s drained: %d task(s) of stack %s moved, converged in %s\n",
				rep.Node, rep.Moved, c.st.Name, rep.Elapsed.Round(100*time.Millisecond))
			tw := tabwriter.NewWriter(c.o.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tTASKS\tNODES\tENDPOINTS")
			for _, s := range rep.Services {
				fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\n", s.Name, s.Running, s.Desired, strings.Join(s.Nodes, ","), s.Endpoints)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "how long to wait for the tasks to move")
	return cmd
}

func (c *cli) undrainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "undrain NODE",
		Short: "Make a drained node (hostname or ID) available again; Swarm places new tasks there, it does not move running ones",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, nc, err := c.nodeClient()
			if err != nil {
				return err
			}
			n, err := swarmx.SetAvailability(cmd.Context(), nc, args[0], swarm.NodeAvailabilityActive)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.o.Stdout, "node %s: %s -> active\n", n.Description.Hostname, n.Spec.Availability)
			return nil
		},
	}
}

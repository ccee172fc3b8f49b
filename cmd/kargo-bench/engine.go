package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/client"
)

// countingClient counts the Engine API calls an Applier makes, the mutating ones apart.
type countingClient struct {
	swarmx.Client
	calls, mutations atomic.Int64
}

func (c *countingClient) read()  { c.calls.Add(1) }
func (c *countingClient) write() { c.calls.Add(1); c.mutations.Add(1) }

func (c *countingClient) reset() { c.calls.Store(0); c.mutations.Store(0) }

func (c *countingClient) ServiceList(ctx context.Context, o client.ServiceListOptions) (client.ServiceListResult, error) {
	c.read()
	return c.Client.ServiceList(ctx, o)
}
func (c *countingClient) ServiceInspect(ctx context.Context, id string, o client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	c.read()
	return c.Client.ServiceInspect(ctx, id, o)
}
func (c *countingClient) TaskList(ctx context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	c.read()
	return c.Client.TaskList(ctx, o)
}
func (c *countingClient) NetworkList(ctx context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	c.read()
	return c.Client.NetworkList(ctx, o)
}
func (c *countingClient) SecretList(ctx context.Context, o client.SecretListOptions) (client.SecretListResult, error) {
	c.read()
	return c.Client.SecretList(ctx, o)
}
func (c *countingClient) ConfigList(ctx context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	c.read()
	return c.Client.ConfigList(ctx, o)
}
func (c *countingClient) VolumeList(ctx context.Context, o client.VolumeListOptions) (client.VolumeListResult, error) {
	c.read()
	return c.Client.VolumeList(ctx, o)
}
func (c *countingClient) ServiceCreate(ctx context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	c.write()
	return c.Client.ServiceCreate(ctx, o)
}
func (c *countingClient) ServiceUpdate(ctx context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	c.write()
	return c.Client.ServiceUpdate(ctx, id, o)
}
func (c *countingClient) ServiceRemove(ctx context.Context, id string, o client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	c.write()
	return c.Client.ServiceRemove(ctx, id, o)
}
func (c *countingClient) NetworkCreate(ctx context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	c.write()
	return c.Client.NetworkCreate(ctx, name, o)
}
func (c *countingClient) NetworkRemove(ctx context.Context, id string, o client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	c.write()
	return c.Client.NetworkRemove(ctx, id, o)
}
func (c *countingClient) SecretCreate(ctx context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	c.write()
	return c.Client.SecretCreate(ctx, o)
}
func (c *countingClient) SecretRemove(ctx context.Context, id string, o client.SecretRemoveOptions) (client.SecretRemoveResult, error) {
	c.write()
	return c.Client.SecretRemove(ctx, id, o)
}
func (c *countingClient) ConfigCreate(ctx context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	c.write()
	return c.Client.ConfigCreate(ctx, o)
}
func (c *countingClient) ConfigRemove(ctx context.Context, id string, o client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	c.write()
	return c.Client.ConfigRemove(ctx, id, o)
}
func (c *countingClient) VolumeRemove(ctx context.Context, id string, o client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
	c.write()
	return c.Client.VolumeRemove(ctx, id, o)
}

// engine is the local engine the benchmarks deploy to.
type engine struct {
	cli *client.Client
	log io.Writer
}

func (e *engine) applier(c swarmx.Client) *swarmx.Applier {
	if c == nil {
		c = e.cli
	}
	return &swarmx.Applier{Client: c, Progress: e.log, Images: &images.Builder{Client: e.cli}}
}

// remove removes a stack with its volumes and generated secrets, bounded in time.
func (e *engine) remove(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := e.applier(nil).Remove(ctx, name, swarmx.RemoveOptions{Volumes: true}); err != nil {
		return fmt.Errorf("remove stack %s: %w", name, err)
	}
	return nil
}

// docker runs the docker CLI, bounded in time, and returns its combined output.
func docker(ctx context.Context, limit time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, lastLines(out.String(), 5))
	}
	return out.String(), nil
}

// containerOf returns the ID of a running container of a stack's service.
func containerOf(ctx context.Context, stackName, service string) (string, error) {
	out, err := docker(ctx, 30*time.Second, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+stackName+"_"+service)
	if err != nil {
		return "", err
	}
	ids := strings.Fields(out)
	if len(ids) == 0 {
		return "", fmt.Errorf("no running container of %s_%s", stackName, service)
	}
	return ids[0], nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

package swarmx

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/moby/client"
)

// Client is the part of the moby Engine API client the Applier uses. *client.Client
// satisfies it; tests use a recording fake.
type Client interface {
	// ServiceList lists services matching the options.
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	// ServiceInspect returns a service by ID or name.
	ServiceInspect(ctx context.Context, serviceID string, options client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	// ServiceCreate creates a service.
	ServiceCreate(ctx context.Context, options client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	// ServiceUpdate replaces the spec of a service at a given version.
	ServiceUpdate(ctx context.Context, serviceID string, options client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	// ServiceRemove removes a service.
	ServiceRemove(ctx context.Context, serviceID string, options client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	// TaskList lists tasks matching the options.
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)

	// NetworkList lists networks matching the options.
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	// NetworkCreate creates a network.
	NetworkCreate(ctx context.Context, name string, options client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	// NetworkRemove removes a network.
	NetworkRemove(ctx context.Context, networkID string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)

	// SecretList lists secrets matching the options.
	SecretList(ctx context.Context, options client.SecretListOptions) (client.SecretListResult, error)
	// SecretCreate creates a secret.
	SecretCreate(ctx context.Context, options client.SecretCreateOptions) (client.SecretCreateResult, error)
	// SecretRemove removes a secret.
	SecretRemove(ctx context.Context, id string, options client.SecretRemoveOptions) (client.SecretRemoveResult, error)

	// ConfigList lists configs matching the options.
	ConfigList(ctx context.Context, options client.ConfigListOptions) (client.ConfigListResult, error)
	// ConfigCreate creates a config.
	ConfigCreate(ctx context.Context, options client.ConfigCreateOptions) (client.ConfigCreateResult, error)
	// ConfigRemove removes a config.
	ConfigRemove(ctx context.Context, id string, options client.ConfigRemoveOptions) (client.ConfigRemoveResult, error)

	// VolumeList lists volumes matching the options.
	VolumeList(ctx context.Context, options client.VolumeListOptions) (client.VolumeListResult, error)
	// VolumeRemove removes a volume.
	VolumeRemove(ctx context.Context, volumeID string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
}

var _ Client = (*client.Client)(nil)

// NewClient connects to the engine named by DOCKER_HOST (and DOCKER_TLS_VERIFY,
// DOCKER_CERT_PATH, DOCKER_API_VERSION), or the local socket; the client negotiates the API
// version (its default) so that older engines (Debian's 20.10, API 1.41) work. When DOCKER_HOST is unset and
// DOCKER_CONTEXT names a docker context, its endpoint is used.
func NewClient() (*client.Client, error) {
	opts := []client.Opt{client.FromEnv}
	if os.Getenv("DOCKER_HOST") == "" {
		if host, err := contextHost(); err != nil {
			return nil, err
		} else if host != "" {
			opts = append(opts, client.WithHost(host))
		}
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return c, nil
}

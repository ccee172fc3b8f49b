package swarmx

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/client"
)

// LogsClient is what Logs needs of the engine client.
type LogsClient interface {
	// ServiceLogs streams the logs of a service.
	ServiceLogs(ctx context.Context, serviceID string, options client.ServiceLogsOptions) (client.ServiceLogsResult, error)
}

// Logs copies a service's logs (stdout and stderr, multiplexed as the engine sends them
// unless the service has a TTY) to w.
func Logs(ctx context.Context, c LogsClient, stackName, service string, follow bool, tail string, w io.Writer) error {
	name := stackName + "_" + service
	r, err := c.ServiceLogs(ctx, name, client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow, Tail: tail})
	if err != nil {
		return fmt.Errorf("stack %q: service %q: logs: %w", stackName, service, err)
	}
	defer r.Close()
	_, err = demux(w, r)
	return err
}

// demux decodes the engine's multiplexed stream (8-byte headers) into w.
func demux(w io.Writer, r io.Reader) (int64, error) {
	var total int64
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return total, nil
			}
			return total, err
		}
		size := int64(hdr[4])<<24 | int64(hdr[5])<<16 | int64(hdr[6])<<8 | int64(hdr[7])
		n, err := io.CopyN(w, r, size)
		total += n
		if err != nil {
			return total, err
		}
	}
}

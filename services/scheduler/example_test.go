package scheduler_test

import (
	"fmt"

	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
)

// A stack with a scheduled job gets the scheduler service and its socket proxy from Ensure:
// the scheduler runs unprivileged and reaches the Engine API through the proxy, the only
// service that mounts the Docker socket.
func ExampleEnsure() {
	job := &stack.Service{Name: "cleanup", Image: "debian:bookworm-slim", Mode: stack.ReplicatedJob,
		Schedule: "0 0 3 * * *", Command: []string{"echo", "nightly"}}
	st := scheduler.Ensure(stack.New("ops", job))
	s := st.Service("scheduler")
	fmt.Println(s.Image, s.User, s.Env["DOCKER_HOST"], s.Networks)
	p := st.Service("scheduler-proxy")
	fmt.Println(p.Image, p.Placement.Constraints, p.Mounts[0].Source, p.Networks)
	// Output:
	// kargo/scheduler:0.1 65534:65534 tcp://scheduler-proxy:2375 [scheduler-engine]
	// kargo/socket-proxy:0.1 [node.role==manager] /var/run/docker.sock [scheduler-engine]
}

package scheduler_test

import (
	"fmt"

	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
)

// A stack with a scheduled job gets the scheduler service from Ensure.
func ExampleEnsure() {
	job := &stack.Service{Name: "cleanup", Image: "debian:bookworm-slim", Mode: stack.ReplicatedJob,
		Schedule: "0 0 3 * * *", Command: []string{"echo", "nightly"}}
	st := scheduler.Ensure(stack.New("ops", job))
	s := st.Service("scheduler")
	fmt.Println(s.Image, s.Placement.Constraints, s.Mounts[0].Source, s.Mounts[0].ReadOnly)
	// Output: kargo/scheduler:0.1 [node.role==manager] /var/run/docker.sock true
}

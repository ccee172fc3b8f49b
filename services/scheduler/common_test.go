package scheduler_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalisio/kargo/internal/schedrun"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/services/scheduler"
	"github.com/kalisio/kargo/stack"
)

func TestCommonFieldsOfTheScheduler(t *testing.T) {
	s := scheduler.New(scheduler.Config{Common: builder.Common{Env: map[string]string{"TZ": "UTC", schedrun.EnvStack: "other"},
		Networks: []string{"metrics"}, Placement: stack.Placement{Constraints: []string{"node.labels.ops==true"}}}})
	assert.Equal(t, []*stack.Service{s.Service, s.Proxy}, s.Services())
	assert.Equal(t, "UTC", s.Service.Env["TZ"])
	assert.NotEqual(t, "other", s.Service.Env[schedrun.EnvStack], "the builder's own variables win")
	assert.Equal(t, []string{"scheduler-engine", "metrics"}, s.Service.Networks)
	assert.Equal(t, []string{"node.labels.ops==true"}, s.Service.Placement.Constraints)
	assert.Equal(t, []string{"node.role==manager"}, s.Proxy.Placement.Constraints, "the proxy stays where the socket is")

	two := scheduler.New(scheduler.Config{Common: builder.Common{Replicas: 2}})
	err := stack.New("s", two).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "services[scheduler].config.replicas")
}

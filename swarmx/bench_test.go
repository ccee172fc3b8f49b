package swarmx_test

import (
	"fmt"
	"testing"

	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// benchStack is a stack of n services, each with env, a port, a volume, a secret, a config
// and a dependency on the previous one: the shape of a real map stack, scaled.
func benchStack(n int) *stack.Stack {
	st := stack.New("bench")
	for i := 0; i < n; i++ {
		s := &stack.Service{Name: fmt.Sprintf("svc-%d", i), Image: "kargo/mapserver:8.0",
			Env:     map[string]string{"A": "1", "B": fmt.Sprint(i)},
			Ports:   []stack.Port{{Target: 80, Published: uint32(20000 + i)}},
			Mounts:  []stack.Mount{{Source: fmt.Sprintf("data-%d", i), Target: "/data"}},
			Secrets: []stack.FileRef{{Source: fmt.Sprintf("pw-%d", i)}},
			Configs: []stack.FileRef{{Source: fmt.Sprintf("conf-%d", i), Target: "/etc/app.conf"}},
			Health:  &stack.Health{Test: []string{"CMD", "true"}},
		}
		if i > 0 {
			s.DependsOn = []string{fmt.Sprintf("svc-%d", i-1)}
		}
		s.Declares.Secrets = []stack.Secret{{Name: fmt.Sprintf("pw-%d", i), Data: []byte("secret")}}
		s.Declares.Configs = []stack.Config{{Name: fmt.Sprintf("conf-%d", i), Data: []byte("key = value\n")}}
		st.Add(s)
	}
	return st
}

// BenchmarkRender reports the time per service of Validate + Render for stacks of 10, 100
// and 1000 services; the ns/service of the larger stacks divided by that of the 10-service
// one is the scaling ratio (1 = linear).
func BenchmarkRender(b *testing.B) {
	var base float64
	for _, n := range []int{10, 100, 1000} {
		st := benchStack(n)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := swarmx.Render(st, swarmx.Source{}); err != nil {
					b.Fatal(err)
				}
			}
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
			b.ReportMetric(per, "ns/service")
			if n == 10 {
				base = per
			} else if base > 0 {
				b.ReportMetric(per/base, "x-vs-10")
			}
		})
	}
}

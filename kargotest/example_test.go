package kargotest_test

import (
	"fmt"
	"testing"

	"github.com/kalisio/kargo/kargotest"
	"github.com/kalisio/kargo/stack"
)

func quickstart() *stack.Stack {
	ms := &stack.Service{
		Name:     "mapserver",
		Image:    "camptocamp/mapserver:8.0",
		Replicas: stack.Ptr(uint64(2)),
		Env:      map[string]string{"MS_MAPFILE": "/etc/mapserver/app.map"},
		Ports:    []stack.Port{{Target: 80, Published: 8080}},
		Secrets:  []stack.FileRef{{Source: "pgpass"}},
	}
	return stack.New("quickstart", ms, stack.Secret{Name: "pgpass", Env: "PGPASSWORD"})
}

func ExampleRender() {
	t := &testing.T{} // in a test: the test's *testing.T

	ms := kargotest.Render(t, quickstart()).Service("mapserver")
	fmt.Println(ms.Name(), ms.Replicas(), ms.Image())
	fmt.Println(ms.Env("MS_MAPFILE"))
	fmt.Printf("%+v\n", ms.Ports())
	fmt.Println(ms.SecretTargets()["pgpass"])
	// Output:
	// quickstart_mapserver 2 camptocamp/mapserver:8.0
	// /etc/mapserver/app.map
	// [{Target:80 Published:8080 Protocol:tcp Mode:host}]
	// /run/secrets/pgpass
}

func ExampleInvalid() {
	t := &testing.T{} // in a test: the test's *testing.T

	st := quickstart()
	st.Service("mapserver").Mode = stack.Global // a global service cannot have replicas
	p := kargotest.Invalid(t, st, "services[mapserver].replicas")
	fmt.Println(p)
	// Output:
	// services[mapserver].replicas: cannot be set for mode global
}

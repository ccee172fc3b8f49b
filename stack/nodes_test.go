package stack_test

import (
	"errors"
	"testing"

	"github.com/kalisio/kargo/stack"
)

func TestValidateRegistryAndNodeLabels(t *testing.T) {
	st := stack.New("maps", &stack.Service{Name: "api", Image: "example/api:1"})
	st.Registry = "10.199.0.1:5000/extra"
	st.Nodes = []stack.NodeLabels{
		{Hostname: "kargo-n1", Labels: map[string]string{"db": "true", "io.kargo.labels.maps": "db"}},
		{Hostname: "kargo-n1"},
		{Hostname: "bad host"},
		{},
	}
	var ve *stack.ValidationError
	if err := st.Validate(); !errors.As(err, &ve) {
		t.Fatalf("Validate = %v", err)
	}
	for _, p := range []string{"registry", "nodes[kargo-n1].labels", "nodes[kargo-n1].hostname", "nodes[bad host].hostname", "nodes[3].hostname"} {
		if !ve.Has(p) {
			t.Errorf("no problem at %s in %v", p, ve)
		}
	}
	st.Registry = "10.199.0.1:5000"
	st.Nodes = []stack.NodeLabels{{Hostname: "kargo-n1", Labels: map[string]string{"db": "true"}}}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
}

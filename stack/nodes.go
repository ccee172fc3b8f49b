package stack

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/distribution/reference"
)

// NodeLabels are the labels Kargo keeps on one node of the Swarm, found by its hostname.
// Kargo owns the labels it set (it records their keys on the node) and removes them when
// they leave the stack; labels set by anyone else are left alone.
type NodeLabels struct {
	// Hostname of the node, as `docker node ls` shows it.
	Hostname string
	// Labels to set, e.g. {"postgis": "true"}; services select the node with the constraint
	// "node.labels.postgis==true".
	Labels map[string]string
}

// hostnameRE is a DNS host name (labels of letters, digits and '-', dot separated).
var hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$`)

// cluster checks the registry address and the node labels.
func (v *validation) cluster() {
	s := v.stack
	if s.Registry != "" {
		if _, err := reference.ParseNormalizedNamed(s.Registry + "/kargo/x:1"); err != nil || strings.Contains(s.Registry, "/") {
			v.add("registry", "%q is not a registry address: give host[:port], e.g. 10.199.0.1:5000", s.Registry)
		}
	}
	seen := map[string]bool{}
	for i, n := range s.Nodes {
		p := "nodes[" + n.Hostname + "]"
		if n.Hostname == "" {
			p = "nodes[" + strconv.Itoa(i) + "]"
		}
		switch {
		case n.Hostname == "":
			v.add(p+".hostname", "is required")
		case !hostnameRE.MatchString(n.Hostname):
			v.add(p+".hostname", "%q is not a host name", n.Hostname)
		case seen[n.Hostname]:
			v.add(p+".hostname", "%q is given twice", n.Hostname)
		}
		seen[n.Hostname] = true
		for k := range n.Labels {
			switch {
			case !labelRE.MatchString(k):
				v.add(p+".labels", "invalid label key %q", k)
			case strings.HasPrefix(k, LabelPrefix):
				v.add(p+".labels", "label %q is managed by Kargo and cannot be set", k)
			}
		}
	}
}

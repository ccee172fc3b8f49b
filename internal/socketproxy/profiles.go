// Package socketproxy is a filtering proxy in front of the Docker Engine socket: it lets a
// service of a stack make the few Engine API calls it needs, about its own stack only, and
// refuses every other call with 403 Forbidden.
//
// The Engine API has no permissions: whoever can open the socket can create a privileged
// container that mounts the node's root, which is root on the node. Kargo's scheduler only lists,
// inspects and updates the job services of its stack and lists their tasks, so instead of the
// socket it gets the address of this proxy, which runs beside the socket on a manager and
// allows exactly those calls (profile "scheduler"). A read-only profile ("discovery") is for a
// monitoring service that discovers the stack's tasks.
//
// What each profile allows is data, the Rules of a Profile: a method, a path pattern, the
// query parameters it may carry and a Scope that says how the call is confined to the stack.
// Anything that matches no rule, or that a scope check refuses, is answered 403 with a JSON
// body {"message": "..."} that Docker clients show as the error.
package socketproxy

import (
	"sort"
	"strings"
)

// Scope says how a call that matches a Rule is confined to the proxy's stack.
type Scope int

// Scopes.
const (
	// Open calls concern no stack object: /_ping, /version, the node list.
	Open Scope = iota
	// StackServices is a service list: its filters always include the stack's namespace
	// label (added when missing) and the answer keeps only the stack's services.
	StackServices
	// StackService is a call about one service ({id} in the path): the proxy inspects it
	// first, refuses a service of another stack (or none), and forwards the call with the
	// service's full ID.
	StackService
	// StackJobRun is an update of a scheduled job of the stack that only starts a run: the
	// new spec may differ from the current one in the run labels (io.kargo.run.*) and the
	// task template's ForceUpdate counter, nothing else. The proxy forwards the spec it
	// decoded, never the raw body.
	StackJobRun
	// StackTasks is a task list: its "service" filters must name services of the stack
	// (every service of the stack when there is none) and the answer keeps only their tasks.
	StackTasks
	// StackNetworks is a network list: filters forced to the stack's namespace label, the
	// answer keeps only the stack's networks.
	StackNetworks
)

var scopeNames = map[Scope]string{
	Open: "open", StackServices: "stack services", StackService: "stack service",
	StackJobRun: "run of a stack job", StackTasks: "stack tasks", StackNetworks: "stack networks",
}

// String names the scope.
func (s Scope) String() string { return scopeNames[s] }

// Rule allows one kind of call.
type Rule struct {
	// Method is the HTTP method: GET, HEAD or POST.
	Method string
	// Path is the path without the /v1.xx version prefix; a segment "{id}" matches one
	// object ID or name (letters, digits, '_', '.', '-', not starting with '.', '_' or '-').
	Path string
	// Query lists the query parameters the call may carry, each at most once.
	Query []string
	// Filters lists the keys the "filters" parameter may use (when Query has "filters").
	Filters []string
	// Body is true for calls that send a JSON body (at most MaxBody bytes).
	Body bool
	// Scope confines the call to the stack.
	Scope Scope
}

// Profile is a named set of rules.
type Profile struct {
	// Name of the profile, as given to the proxy (KARGO_PROXY_PROFILE).
	Name string
	// Rules allowed; every other call is refused.
	Rules []Rule
}

// Profile names.
const (
	// ProfileScheduler is what Kargo's scheduler needs: list, inspect and start runs of the
	// stack's scheduled jobs, and list their tasks.
	ProfileScheduler = "scheduler"
	// ProfileDiscovery is read-only service discovery of the stack: exactly the calls of
	// Prometheus' dockerswarm_sd_configs with role tasks (Prometheus 2.42, Debian 12's): the
	// version negotiation, then the tasks, services and networks of the stack, and the nodes.
	// Later Prometheus versions also inspect each task's container: that call is refused (they
	// skip the container labels it would add). services/monitoring uses it.
	ProfileDiscovery = "discovery"
)

// base are the calls every client makes to negotiate the API version.
var base = []Rule{
	{Method: "HEAD", Path: "/_ping", Scope: Open},
	{Method: "GET", Path: "/_ping", Scope: Open},
	{Method: "GET", Path: "/version", Scope: Open},
}

var serviceFilters = []string{"id", "label", "mode", "name"}
var taskFilters = []string{"desired-state", "id", "label", "name", "node", "service"}

// Profiles are the profiles the proxy knows, by name.
var Profiles = map[string]Profile{
	ProfileScheduler: {Name: ProfileScheduler, Rules: append(append([]Rule{}, base...),
		Rule{Method: "GET", Path: "/services", Query: []string{"filters", "status"}, Filters: serviceFilters, Scope: StackServices},
		Rule{Method: "GET", Path: "/services/{id}", Query: []string{"insertDefaults"}, Scope: StackService},
		Rule{Method: "POST", Path: "/services/{id}/update", Query: []string{"version"}, Body: true, Scope: StackJobRun},
		Rule{Method: "GET", Path: "/tasks", Query: []string{"filters"}, Filters: taskFilters, Scope: StackTasks},
	)},
	ProfileDiscovery: {Name: ProfileDiscovery, Rules: append(append([]Rule{}, base...),
		Rule{Method: "GET", Path: "/services", Query: []string{"filters", "status"}, Filters: serviceFilters, Scope: StackServices},
		Rule{Method: "GET", Path: "/tasks", Query: []string{"filters"}, Filters: taskFilters, Scope: StackTasks},
		Rule{Method: "GET", Path: "/networks", Query: []string{"filters"}, Filters: []string{"driver", "id", "label", "name", "scope", "type"}, Scope: StackNetworks},
		Rule{Method: "GET", Path: "/nodes", Query: []string{"filters"}, Filters: []string{"id", "label", "membership", "name", "node.label", "role"}, Scope: Open},
	)},
}

// ProfileNames returns the names of the known profiles, sorted.
func ProfileNames() []string {
	var out []string
	for n := range Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Describe returns one line per rule of the profile, e.g. "GET /services (filters forced to
// the stack)", for documentation and logs.
func (p Profile) Describe() []string {
	var out []string
	for _, r := range p.Rules {
		line := r.Method + " " + r.Path
		if len(r.Query) > 0 {
			line += "?" + strings.Join(r.Query, "&")
		}
		out = append(out, line+" ("+r.Scope.String()+")")
	}
	return out
}

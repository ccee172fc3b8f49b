package main

import "github.com/kalisio/kargo/stack"

// Node labels of the quickstart's cluster layout, kept on the nodes by Kargo (stack.Nodes).
const (
	// DBLabel marks the node that runs PostGIS and keeps its volume.
	DBLabel = "quickstart.db"
	// EdgeLabel marks the node that runs the gateway, whose host-mode ports answer there.
	EdgeLabel = "quickstart.edge"
)

// OnCluster places the quickstart on a multi-node Swarm: PostGIS pinned to the node labelled
// quickstart.db (its volume is a local volume there), the gateway pinned to the node labelled
// quickstart.edge (its ports, and its local CA, live there), MapServer at most one replica per
// node (so a drained or lost node's replica has a free node to go to), and both labels put on
// the node with the given hostname. MapCache may run on any node: its tile cache is a local
// volume of the node it runs on, so a moved task starts with an empty cache (tiles are
// rendered again on demand). The gateway answers cached XYZ and WMTS tiles from the files of
// the cache volume of its own node: they are there when MapCache runs (or ran) on the edge
// node; elsewhere the gateway's volume stays empty and every tile goes to MapCache, as it
// would without files (a miss always falls back to MapCache). Use it with a registry (stack.Registry or KARGO_REGISTRY) so
// every node can pull the images.
func OnCluster(st *stack.Stack, node string) *stack.Stack {
	st.Nodes = append(st.Nodes, stack.NodeLabels{Hostname: node, Labels: map[string]string{DBLabel: "true", EdgeLabel: "true"}})
	if db := st.Service("db"); db != nil {
		db.Placement.Constraints = append(db.Placement.Constraints, "node.labels."+DBLabel+"==true")
	}
	if gw := st.Service("gateway"); gw != nil {
		gw.Placement.Constraints = append(gw.Placement.Constraints, "node.labels."+EdgeLabel+"==true")
	}
	if ms := st.Service("mapserver"); ms != nil {
		ms.Placement.MaxReplicasPerNode = 1
	}
	return st
}

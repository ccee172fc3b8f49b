// Command quickstart deploys Kargo's quickstart infrastructure on a Docker Swarm: PostGIS
// loaded at first start with a small vector dataset over France (cities, roads, zones), a
// MapServer serving it with an elevation raster (WMS, WFS, WCS, OGC API – Features), MapCache
// tiling the roads and cities as images and as vector tiles (WMTS, TMS, XYZ), and a gateway
// on 127.0.0.1:8080 (HTTP) and 127.0.0.1:8443 (HTTPS, with a certificate from the gateway's
// local CA; see README.md to trust it).
//
//	go run ./examples/quickstart apply   # build the images if needed, deploy, print the URLs
//	go run ./examples/quickstart status
//	go run ./examples/quickstart backup            # a dump now (one runs every night)
//	go run ./examples/quickstart restore [NAME]    # the latest dump, or NAME, back into PostGIS
//	go run ./examples/quickstart restore --from F  # a local dump (backup --copy-to F) back into PostGIS
//	go run ./examples/quickstart rm
//
// The stack is described in the qstack package (shared with the benchmarks); the data are
// made by `go run ./gendata` (in this directory) and embedded.
package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kalisio/kargo"
	"github.com/kalisio/kargo/examples/quickstart/qstack"
	"github.com/kalisio/kargo/stack"
)

//go:generate go run ./gendata

var (
	//go:embed data/quickstart.sql
	dataSQL []byte
	//go:embed data/elevation.asc
	elevationGrid []byte
)

// Name of the stack.
const Name = qstack.Name

// Ports of the gateway on the host.
const (
	HTTPPort  = qstack.HTTPPort
	HTTPSPort = qstack.HTTPSPort
)

// Dataset facts (see gendata), checked by the integration tests.
const (
	Cities = 300
	Roads  = 89
	Zones  = 20
)

// Options vary the quickstart for tests and experiments; the zero value is the quickstart.
type Options = qstack.Options

// Stack returns the quickstart stack (described in qstack) with the embedded data.
func Stack(o Options) *stack.Stack {
	return qstack.Stack(qstack.Data{SQL: dataSQL, Elevation: elevationGrid}, o)
}

// URLs are the public endpoints of the quickstart.
func URLs() []string {
	base := fmt.Sprintf("http://127.0.0.1:%d", HTTPPort)
	return []string{
		base + "/wms?SERVICE=WMS&REQUEST=GetCapabilities",
		base + "/wfs?SERVICE=WFS&REQUEST=GetCapabilities",
		base + "/wcs?SERVICE=WCS&REQUEST=GetCapabilities",
		base + "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities",
		base + "/wmts/1.0.0/WMTSCapabilities.xml",
		base + "/tms/1.0.0/",
		base + "/ogcapi",
		base + "/xyz/cities-mvt@GoogleMapsCompatible/{z}/{x}/{y}.mvt",
		fmt.Sprintf("https://127.0.0.1:%d/wms?SERVICE=WMS&REQUEST=GetCapabilities", HTTPSPort),
		base + "/prometheus/api/v1/alerts",
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st := Stack(Options{})
	// QUICKSTART_NODE=<hostname>: the cluster layout (see OnCluster), e.g. on the Swarm of
	// scripts/local-cluster.sh: QUICKSTART_NODE=kargo-n1.
	if node := os.Getenv("QUICKSTART_NODE"); node != "" {
		st = OnCluster(st, node)
	}
	err := kargo.Run(ctx, os.Args[1:], st, kargo.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "kargo:", err)
	} else if len(os.Args) > 1 && os.Args[1] == "apply" {
		printURLs(os.Stdout)
	}
	os.Exit(kargo.ExitCode(err))
}

func printURLs(w io.Writer) {
	fmt.Fprintln(w, "quickstart endpoints:")
	for _, u := range URLs() {
		fmt.Fprintln(w, "  "+u)
	}
}

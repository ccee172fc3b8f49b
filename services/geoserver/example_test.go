package geoserver_test

import (
	"fmt"

	"github.com/kalisio/kargo/services/geoserver"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

func Example() {
	gs := geoserver.New(geoserver.Config{Extensions: []string{"wps"}})
	d, err := swarmx.Render(stack.New("ows", gs), swarmx.Source{})
	if err != nil {
		fmt.Println(err)
		return
	}
	svc, _ := d.Service("geoserver")
	env := svc.Env()
	fmt.Println(svc.Spec.TaskTemplate.ContainerSpec.Image)
	fmt.Println(env["GEOSERVER_ADMIN_PASSWORD_FILE"])
	fmt.Println(env["STABLE_EXTENSIONS"], env["EXTRA_JAVA_OPTS"])
	for _, e := range svc.Endpoints {
		fmt.Println(e.Kind, e.Path)
	}
	// Output:
	// docker.osgeo.org/geoserver:2.28.2
	// /run/secrets/geoserver-admin-password
	// wps -Xms256m -Xmx1536m
	// WMS /geoserver/wms
	// WFS /geoserver/wfs
	// WCS /geoserver/wcs
	// WMTS /geoserver/gwc/service/wmts
}

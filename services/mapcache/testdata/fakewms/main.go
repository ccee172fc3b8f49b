// Command fakewms is a minimal WMS 1.3.0 server for the integration tests of the mapcache
// builder: GetCapabilities lists the layers given with -layers; GetMap returns a PNG of the
// requested size and counts the requests, which /count reports.
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

var getMaps atomic.Int64

func param(r *http.Request, name string) string {
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func main() {
	addr := flag.String("addr", ":80", "listen address")
	layers := flag.String("layers", "roads", "comma-separated layer names")
	health := flag.Bool("health", false, "check the server on 127.0.0.1 and exit")
	flag.Parse()
	if *health {
		c := &http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get("http://127.0.0.1" + *addr + "/count")
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		os.Exit(0)
	}
	http.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, getMaps.Load())
	})
	http.HandleFunc("/wms", func(w http.ResponseWriter, r *http.Request) {
		switch strings.ToLower(param(r, "REQUEST")) {
		case "getcapabilities":
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><WMS_Capabilities version="1.3.0" xmlns="http://www.opengis.net/wms"><Service><Name>WMS</Name><Title>fake</Title></Service><Capability><Request><GetMap><Format>image/png</Format></GetMap></Request><Layer><Title>fake</Title><CRS>EPSG:3857</CRS><CRS>EPSG:4326</CRS>`)
			for _, l := range strings.Split(*layers, ",") {
				fmt.Fprintf(w, `<Layer queryable="0"><Name>%s</Name><Title>%s</Title></Layer>`, l, l)
			}
			fmt.Fprint(w, `</Layer></Capability></WMS_Capabilities>`)
		case "getmap":
			wd, _ := strconv.Atoi(param(r, "WIDTH"))
			ht, _ := strconv.Atoi(param(r, "HEIGHT"))
			if wd <= 0 || ht <= 0 || wd > 4096 || ht > 4096 {
				http.Error(w, "bad WIDTH/HEIGHT", http.StatusBadRequest)
				return
			}
			n := getMaps.Add(1)
			img := image.NewNRGBA(image.Rect(0, 0, wd, ht))
			for y := 0; y < ht; y++ {
				for x := 0; x < wd; x++ {
					if x == y || x == wd/2 {
						img.Set(x, y, color.NRGBA{200, 30, 30, 255})
					} else {
						img.Set(x, y, color.NRGBA{30, 90, uint8(n * 40), 255})
					}
				}
			}
			w.Header().Set("Content-Type", "image/png")
			if err := png.Encode(w, img); err != nil {
				log.Print(err)
			}
		default:
			http.Error(w, "unsupported request", http.StatusBadRequest)
		}
	})
	log.Printf("fakewms listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

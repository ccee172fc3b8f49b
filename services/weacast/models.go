package weacast

import (
	"fmt"
	"time"
)

// Model is a numerical weather prediction model a Weacast loader downloads.
type Model string

// Models with a loader image (weacast/weacast-loader@v1.7.0: dockerfile.<model>,
// jobfile-<model>.js; Kargo v0.18 deploy/<model>-loader.yml). The isobaric variants are not
// covered.
const (
	// ArpegeWorld is Météo-France ARPEGE, global 0.25°, runs every 6 h, 3 h steps.
	ArpegeWorld Model = "arpege-world"
	// ArpegeEurope is Météo-France ARPEGE, Europe 0.1°, runs every 6 h, 1 h steps.
	ArpegeEurope Model = "arpege-europe"
	// AromeFrance is Météo-France AROME, France 0.025°, runs every 3 h, 1 h steps.
	AromeFrance Model = "arome-france"
	// AromeFranceHigh is Météo-France AROME, France 0.01°, runs every 3 h, 1 h steps; its
	// grids are stored in GridFS.
	AromeFranceHigh Model = "arome-france-high"
	// GFSWorld is NOAA GFS, global 0.5°, runs every 6 h, 3 h steps.
	GFSWorld Model = "gfs-world"
)

// Element is a forecast variable a loader writes, one MongoDB collection per model and
// element: "<model>-<element>".
type Element string

// Elements every loader of weacast-loader v1.7.0 writes (job-arpege.js, job-gfs.js): for
// ARPEGE/AROME the WCS coverages *_SPECIFIC_HEIGHT_LEVEL_ABOVE_GROUND (10 m, 2 m) and
// TOTAL_PRECIPITATION (3 h accumulation); for GFS var_UGRD/var_VGRD/var_TMP/var_GUST/var_APCP.
const (
	UWind          Element = "u-wind"
	VWind          Element = "v-wind"
	Gust           Element = "gust"
	Temperature    Element = "temperature"
	Precipitations Element = "precipitations"
)

// Level returns the level an element is read at.
func (e Element) Level() string {
	switch e {
	case UWind, VWind:
		return "10 m above ground"
	case Gust:
		return "10 m above ground (GFS: surface)"
	case Temperature:
		return "2 m above ground"
	case Precipitations:
		return "surface, 3 h accumulation"
	}
	return ""
}

// ModelInfo is what Kargo knows of a model's loader image.
type ModelInfo struct {
	// Image is the loader image of weacast-loader 1.7.0 (Kargo v0.18 .env.default).
	Image string
	// Cron is the image's ENV CRON, used unless a loader overrides it.
	Cron string
	// JobFile is the job the image's CMD runs.
	JobFile string
	// UpperLimit is Kargo v0.18's default UPPER_LIMIT (the forecast horizon loaded).
	UpperLimit time.Duration
	// MaxUpperLimit is the horizon of the job file (nwp.upperLimit), the longest available.
	MaxUpperLimit time.Duration
	// RunInterval is how often the model runs; Interval the forecast step.
	RunInterval, Interval time.Duration
	// MeteoFrance models need a Météo-France API token (METEO_FRANCE_TOKEN).
	MeteoFrance bool
	// GridFS models also write a GridFS bucket per element.
	GridFS bool
}

var models = map[Model]ModelInfo{
	ArpegeWorld: {Image: "weacast/weacast-arpege:world-1.7.0", Cron: "0 10 * * * *", JobFile: "jobfile-arpege-world.js",
		UpperLimit: 48 * time.Hour, MaxUpperLimit: 102 * time.Hour, RunInterval: 6 * time.Hour, Interval: 3 * time.Hour, MeteoFrance: true},
	ArpegeEurope: {Image: "weacast/weacast-arpege:europe-1.7.0", Cron: "0 15 * * * *", JobFile: "jobfile-arpege-europe.js",
		UpperLimit: 48 * time.Hour, MaxUpperLimit: 102 * time.Hour, RunInterval: 6 * time.Hour, Interval: time.Hour, MeteoFrance: true},
	AromeFrance: {Image: "weacast/weacast-arome:france-1.7.0", Cron: "0 0 * * * *", JobFile: "jobfile-arome-france.js",
		UpperLimit: 36 * time.Hour, MaxUpperLimit: 42 * time.Hour, RunInterval: 3 * time.Hour, Interval: time.Hour, MeteoFrance: true},
	AromeFranceHigh: {Image: "weacast/weacast-arome:france-high-1.7.0", Cron: "0 5 * * * *", JobFile: "jobfile-arome-france-high.js",
		UpperLimit: 24 * time.Hour, MaxUpperLimit: 42 * time.Hour, RunInterval: 3 * time.Hour, Interval: time.Hour, MeteoFrance: true, GridFS: true},
	GFSWorld: {Image: "weacast/weacast-gfs:world-1.7.0", Cron: "0 20 * * * *", JobFile: "jobfile-gfs-world.js",
		UpperLimit: 72 * time.Hour, MaxUpperLimit: 240 * time.Hour, RunInterval: 6 * time.Hour, Interval: 3 * time.Hour},
}

// Models returns every known model, in a stable order.
func Models() []Model {
	return []Model{ArpegeWorld, ArpegeEurope, AromeFrance, AromeFranceHigh, GFSWorld}
}

// Info returns what Kargo knows of the model and whether it is known.
func (m Model) Info() (ModelInfo, bool) {
	i, ok := models[m]
	return i, ok
}

// Elements returns the elements the model's loader writes.
func (m Model) Elements() []Element {
	if _, ok := models[m]; !ok {
		return nil
	}
	return []Element{UWind, VWind, Gust, Temperature, Precipitations}
}

// Collections returns the MongoDB collections the model's loader writes, "<model>-<element>"
// (also the GridFS bucket names for GridFS models).
func (m Model) Collections() []string {
	var out []string
	for _, e := range m.Elements() {
		out = append(out, fmt.Sprintf("%s-%s", m, e))
	}
	return out
}

package weacast

import (
	"fmt"
	"strconv"
	"time"
)

// Model is a numerical weather prediction model a Weacast loader downloads.
type Model string

// Models with a loader image (weacast/weacast-loader@v1.7.0: dockerfile.<model>-<variant>,
// jobfile-<model>-<variant>.js, .travis.build.sh; Kargo v0.18 deploy/<model>-loader.yml).
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
// element, "<model>-<element>" (per isobaric level: "<model>-<element>-<level>").
type Element string

// Elements the weacast-loader v1.7.0 jobs know, named as the jobs name them (job-arpege.js,
// job-gfs.js, jobfile-*-isobaric-*.js).
const (
	// UWind is the eastward wind component (ARPEGE/AROME U_COMPONENT_OF_WIND__*, GFS var_UGRD).
	UWind Element = "u-wind"
	// VWind is the northward wind component (V_COMPONENT_OF_WIND__*, GFS var_VGRD).
	VWind Element = "v-wind"
	// Gust is the wind speed of gusts (WIND_SPEED_GUST__*, GFS var_GUST); surface jobs only.
	Gust Element = "gust"
	// Temperature is the air temperature (TEMPERATURE__*, GFS var_TMP).
	Temperature Element = "temperature"
	// Precipitations is the total precipitation over 3 h (TOTAL_PRECIPITATION__*, GFS
	// var_APCP); surface jobs only.
	Precipitations Element = "precipitations"
)

// Elements returns every known element, in a stable order.
func Elements() []Element {
	return []Element{UWind, VWind, Gust, Temperature, Precipitations}
}

// surfaceElements are written by every surface job (job-arpege.js and job-gfs.js defaults,
// which the surface job files of v1.7.0 keep).
var surfaceElements = []Element{UWind, VWind, Gust, Temperature, Precipitations}

// isobaricElements are written by every isobaric job (jobfile-arpege-isobaric-world.js,
// jobfile-arpege-isobaric-europe.js, jobfile-gfs-isobaric-world.js).
var isobaricElements = []Element{UWind, VWind, Temperature}

// SurfaceLevel returns the level a surface job reads the element at.
func (e Element) SurfaceLevel() string {
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

// Level is an isobaric level in hPa (mb).
type Level int

// Isobaric levels the isobaric jobs load (levels [1000, 700, 450, 300, 200] in the ARPEGE job
// files, lev_<n>_mb in the GFS one).
const (
	// Level1000 is 1000 hPa, near the ground.
	Level1000 Level = 1000
	// Level700 is 700 hPa, about 3 000 m.
	Level700 Level = 700
	// Level450 is 450 hPa, about 6 500 m.
	Level450 Level = 450
	// Level300 is 300 hPa, about 9 000 m.
	Level300 Level = 300
	// Level200 is 200 hPa, about 12 000 m.
	Level200 Level = 200
)

// Levels returns the isobaric levels the isobaric jobs load, highest pressure first.
func Levels() []Level {
	return []Level{Level1000, Level700, Level450, Level300, Level200}
}

// String returns the level as the jobs put it in collection names ("1000").
func (l Level) String() string { return strconv.Itoa(int(l)) }

// Variant is one loader image of a model: a surface job or an isobaric one. Its job file
// fixes the elements (and levels) it loads: the images read no variable to choose them.
type Variant struct {
	// Image is the loader image of weacast-loader 1.7.0.
	Image string
	// Cron is the image's ENV CRON, used unless a loader overrides it.
	Cron string
	// JobFile is the job the image's CMD runs.
	JobFile string
	// Elements are the elements the job file loads.
	Elements []Element
	// Levels are the isobaric levels the job file loads each element at; none for a
	// surface job.
	Levels []Level
}

// ModelInfo is what Kargo knows of a model's loader images.
type ModelInfo struct {
	// Surface is the surface variant (Kargo v0.18's loaders).
	Surface Variant
	// Isobaric is the isobaric variant, nil when weacast-loader builds none (AROME).
	Isobaric *Variant
	// UpperLimit is Kargo v0.18's default UPPER_LIMIT (the forecast horizon loaded).
	UpperLimit time.Duration
	// MaxUpperLimit is the horizon of the job files (nwp.upperLimit), the longest available.
	MaxUpperLimit time.Duration
	// RunInterval is how often the model runs.
	RunInterval time.Duration
	// Interval is the forecast step (the same in both variants).
	Interval time.Duration
	// MeteoFrance models need a Météo-France API token (METEO_FRANCE_TOKEN).
	MeteoFrance bool
	// GridFS models also write a GridFS bucket per element.
	GridFS bool
}

func surface(image, cron, job string) Variant {
	return Variant{Image: image, Cron: cron, JobFile: job, Elements: surfaceElements}
}

func isobaric(image, cron, job string) *Variant {
	return &Variant{Image: image, Cron: cron, JobFile: job, Elements: isobaricElements, Levels: Levels()}
}

// Images and CRONs: .travis.build.sh and dockerfile.<model>-<variant> of weacast-loader
// v1.7.0; isobaric variants: dockerfile.arpege-isobaric-{world,europe} (0 40 / 0 45) and
// dockerfile.gfs-isobaric-world (0 50).
var models = map[Model]ModelInfo{
	ArpegeWorld: {
		Surface:    surface("weacast/weacast-arpege:world-1.7.0", "0 10 * * * *", "jobfile-arpege-world.js"),
		Isobaric:   isobaric("weacast/weacast-arpege:isobaric-world-1.7.0", "0 40 * * * *", "jobfile-arpege-isobaric-world.js"),
		UpperLimit: 48 * time.Hour, MaxUpperLimit: 102 * time.Hour, RunInterval: 6 * time.Hour, Interval: 3 * time.Hour, MeteoFrance: true},
	ArpegeEurope: {
		Surface:    surface("weacast/weacast-arpege:europe-1.7.0", "0 15 * * * *", "jobfile-arpege-europe.js"),
		Isobaric:   isobaric("weacast/weacast-arpege:isobaric-europe-1.7.0", "0 45 * * * *", "jobfile-arpege-isobaric-europe.js"),
		UpperLimit: 48 * time.Hour, MaxUpperLimit: 102 * time.Hour, RunInterval: 6 * time.Hour, Interval: time.Hour, MeteoFrance: true},
	AromeFrance: {
		Surface:    surface("weacast/weacast-arome:france-1.7.0", "0 0 * * * *", "jobfile-arome-france.js"),
		UpperLimit: 36 * time.Hour, MaxUpperLimit: 42 * time.Hour, RunInterval: 3 * time.Hour, Interval: time.Hour, MeteoFrance: true},
	AromeFranceHigh: {
		Surface:    surface("weacast/weacast-arome:france-high-1.7.0", "0 5 * * * *", "jobfile-arome-france-high.js"),
		UpperLimit: 24 * time.Hour, MaxUpperLimit: 42 * time.Hour, RunInterval: 3 * time.Hour, Interval: time.Hour, MeteoFrance: true, GridFS: true},
	GFSWorld: {
		Surface:    surface("weacast/weacast-gfs:world-1.7.0", "0 20 * * * *", "jobfile-gfs-world.js"),
		Isobaric:   isobaric("weacast/weacast-gfs:isobaric-world-1.7.0", "0 50 * * * *", "jobfile-gfs-isobaric-world.js"),
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

// Elements returns the elements the model's surface loader writes.
func (m Model) Elements() []Element {
	i, ok := models[m]
	if !ok {
		return nil
	}
	return append([]Element(nil), i.Surface.Elements...)
}

// Collections returns the MongoDB collections the model's surface loader writes,
// "<model>-<element>" (also the GridFS bucket names for GridFS models).
func (m Model) Collections() []string {
	var out []string
	for _, e := range m.Elements() {
		out = append(out, fmt.Sprintf("%s-%s", m, e))
	}
	return out
}

// IsobaricCollections returns the MongoDB collections the model's isobaric loader writes, one
// per element and level, "<model>-<element>-<level>" (job-arpege.js and job-gfs.js name the
// collection so when an element has several levels); nil when the model has no isobaric
// loader.
func (m Model) IsobaricCollections() []string {
	i, ok := models[m]
	if !ok || i.Isobaric == nil {
		return nil
	}
	var out []string
	for _, e := range i.Isobaric.Elements {
		for _, l := range i.Isobaric.Levels {
			out = append(out, fmt.Sprintf("%s-%s-%s", m, e, l))
		}
	}
	return out
}

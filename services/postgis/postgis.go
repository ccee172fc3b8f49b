// Package postgis builds a PostgreSQL + PostGIS server for a Kargo stack: New returns a
// *Server, the service plus the connection facts its clients (MapServer, the GDAL loaders,
// the backup job, the monitoring) need.
//
// The image contract is the one of postgis/postgis (the official postgres image plus
// initdb-postgis.sh): POSTGRES_DB, POSTGRES_USER and POSTGRES_PASSWORD (or their *_FILE
// variants) take effect on an empty data directory (/var/lib/postgresql/data), files in
// /docker-entrypoint-initdb.d run in name order on first start (*.sh, *.sql, *.sql.gz), the
// PostGIS extensions are created in POSTGRES_DB, and the server listens on 5432. Kargo's own
// image (images/contexts/postgis, kargo/postgis:15-3.3) keeps that contract, so Config.Image
// can name postgis/postgis:15-3.3 instead.
//
// The superuser password is a Docker secret mounted as a file and read through
// POSTGRES_PASSWORD_FILE (generated when not given and never printed); it is never an
// environment value. The secret stays the truth: Kargo's image sets the role's password
// from the secret file at every start (over the local socket, before it listens on the
// network), so data kept in the volume open with a regenerated or rotated password, and a
// new secret value rolls the service and its clients (they mount the secret) on the next
// apply. The server checks its health with pg_isready and keeps its data on a named volume.
package postgis

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kalisio/kargo/images"
	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/stack"
)

// Image contract constants.
const (
	// Port is the PostgreSQL port.
	Port = 5432
	// DataDir is PGDATA, where the data volume is mounted.
	DataDir = "/var/lib/postgresql/data"
	// InitDir is the directory of first-start scripts.
	InitDir = "/docker-entrypoint-initdb.d"
	// DefaultUser is the superuser created on first start (as in the official image).
	DefaultUser = "postgres"
)

// HealthInterval is how often the server's health is checked (pg_isready).
const HealthInterval = 2 * time.Second

var defaults = builder.Defaults{
	Name:  "postgis",
	Image: images.Ref("postgis"),
	Resources: stack.Resources{
		CPULimit: 1, MemoryLimit: 1 * stack.GiB,
		CPUReservation: 0.25, MemoryReservation: 256 * stack.MiB,
	},
}

// passwordLen is the length of a generated password.
const passwordLen = 32

// InitFile is a file run on first start from /docker-entrypoint-initdb.d. Exactly one of
// Data (the content) and File (a path read by the deploy program when it renders the stack)
// gives its content. Files run in Name order after the PostGIS extensions are created
// (the image's own script is 10_postgis.sh), so name them 20_schema.sql, 30_data.sql.gz...
type InitFile struct {
	// Name is the file name in /docker-entrypoint-initdb.d; it must end in .sh, .sql or .sql.gz.
	Name string
	// Data is the file's content.
	Data []byte
	// File is a path to the content, read by the deploy program when it renders the stack.
	File string
}

// Config describes a PostGIS server. The zero value is a usable database "postgres" owned
// by "postgres", in a service named "postgis", with a generated password. Common.Replicas
// must stay 1 (0 means 1): one server owns one data volume. Common.Env never takes the
// password: set Password.
type Config struct {
	builder.Common
	// Database created on first start (POSTGRES_DB); default User.
	Database string
	// User is the superuser created on first start (POSTGRES_USER); default "postgres".
	User string
	// Password is the superuser password secret; default a generated 32-character secret
	// named "<name>-password". Its name is set when empty.
	Password *stack.Secret
	// Volume is the named volume holding PGDATA; default "<name>-data".
	Volume string
	// InitSQL is SQL run on first start, after the PostGIS extensions (as 50_init.sql).
	InitSQL string
	// Init are further first-start files (shipped as configs).
	Init []InitFile
	// SharedBuffers sets shared_buffers, e.g. "256MB"; empty keeps PostgreSQL's default.
	SharedBuffers string
	// WorkMem sets work_mem, e.g. "16MB"; empty keeps PostgreSQL's default.
	WorkMem string
	// MaxConnections sets max_connections (0 keeps PostgreSQL's default, 100).
	MaxConnections int
	// Settings are further server settings passed as -c name=value.
	Settings map[string]string
}

// Server is a PostGIS server: its *stack.Service (add the Server to a stack as is) and the
// facts clients connect with. Builders of client services take a *Server.
type Server struct {
	// Service is the PostGIS service of the stack.
	*stack.Service
	database string
	user     string
	password string
}

var (
	identRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$-]{0,62}$`)
	settingRE = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)
	initRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*\.(sh|sql|sql\.gz)$`)
)

// New builds the PostGIS server. Configuration problems are recorded on the service
// (stack.Service.Problemf) and reported by Validate.
func New(cfg Config) *Server {
	svc := builder.Base(cfg.Common, defaults)
	name := svc.Name
	user := cmp.Or(cfg.User, DefaultUser)
	db := cmp.Or(cfg.Database, user)
	vol := cmp.Or(cfg.Volume, name+"-data")
	svc.Mounts = []stack.Mount{{Type: stack.VolumeMount, Source: vol, Target: DataDir}}
	svc.Declares.Volumes = []stack.Volume{{Name: vol}}
	// PostgreSQL shuts down cleanly (fast mode) on SIGINT, the image's STOPSIGNAL; give it
	// time to write its checkpoint.
	svc.StopGracePeriod = 30 * time.Second
	// Two servers must never open the same data directory: stop the old task first.
	svc.Update = &stack.UpdatePolicy{Order: stack.StopFirst}
	if cfg.Replicas > 1 {
		svc.Problemf("config.replicas", "a PostGIS service runs one server on one data volume (got %d replicas)", cfg.Replicas)
	}
	if !identRE.MatchString(user) {
		svc.Problemf("config.user", "%q is not a valid PostgreSQL role name", user)
	}
	if !identRE.MatchString(db) {
		svc.Problemf("config.database", "%q is not a valid PostgreSQL database name", db)
	}
	builder.RefuseEnv(svc, "Password", "POSTGRES_PASSWORD")
	svc.Env["POSTGRES_DB"] = db
	svc.Env["POSTGRES_USER"] = user
	sec := builder.Secret(cfg.Password, name+"-password", passwordLen)
	svc.Env["POSTGRES_PASSWORD_FILE"] = builder.DeclareSecret(svc, sec)

	init := cfg.Init
	if cfg.InitSQL != "" {
		init = append([]InitFile{{Name: "50_init.sql", Data: []byte(cfg.InitSQL)}}, init...)
	}
	seen := map[string]bool{}
	for i, f := range init {
		p := fmt.Sprintf("config.init[%d]", i)
		switch {
		case !initRE.MatchString(f.Name):
			svc.Problemf(p+".name", "%q must be a plain file name ending in .sh, .sql or .sql.gz", f.Name)
			continue
		case seen[f.Name]:
			svc.Problemf(p+".name", "%q is given twice", f.Name)
			continue
		case (f.Data != nil) == (f.File != ""):
			svc.Problemf(p, "exactly one of Data and File must be set")
			continue
		}
		seen[f.Name] = true
		cname := name + "-init-" + strings.ReplaceAll(f.Name, ".", "-")
		svc.Declares.Configs = append(svc.Declares.Configs, stack.Config{Name: cname, Data: f.Data, File: f.File})
		svc.Configs = append(svc.Configs, stack.FileRef{Source: cname, Target: path.Join(InitDir, f.Name), Mode: 0o444})
	}

	settings := map[string]string{}
	for k, v := range cfg.Settings {
		if !settingRE.MatchString(k) {
			svc.Problemf("config.settings."+k, "%q is not a PostgreSQL setting name", k)
			continue
		}
		settings[k] = v
	}
	if cfg.SharedBuffers != "" {
		settings["shared_buffers"] = cfg.SharedBuffers
	}
	if cfg.WorkMem != "" {
		settings["work_mem"] = cfg.WorkMem
	}
	if cfg.MaxConnections < 0 {
		svc.Problemf("config.maxConnections", "must be >= 0")
	} else if cfg.MaxConnections > 0 {
		settings["max_connections"] = strconv.Itoa(cfg.MaxConnections)
	}
	if len(settings) > 0 {
		args := []string{"postgres"}
		for _, k := range slices.Sorted(maps.Keys(settings)) {
			args = append(args, "-c", k+"="+settings[k])
		}
		svc.Args = args
	}
	svc.Health = &stack.Health{
		// pg_isready over TCP: the server accepts connections from the network, not only
		// on its socket (which answers during first-start init, when TCP is off).
		// Swarm 20.10 runs the first check one interval after the start (it has no start
		// interval) and gives the server a DNS name only once a check passed: a short
		// interval makes a server that is ready in a few seconds reachable a few seconds
		// later, not ten. pg_isready costs one connection attempt; fifteen failed checks
		// in a row (30 s) still mark it unhealthy, as five at 10 s used to (50 s).
		Test:        []string{"CMD", "pg_isready", "-h", "127.0.0.1", "-p", strconv.Itoa(Port), "-U", user, "-d", db},
		Interval:    HealthInterval,
		Timeout:     5 * time.Second,
		Retries:     15,
		StartPeriod: 60 * time.Second,
	}
	return &Server{Service: svc, database: db, user: user, password: sec.Name}
}

// Host returns the host name other services of the stack reach the server at (its name).
func (p *Server) Host() string { return p.Name }

// Port returns the server port, 5432.
func (p *Server) Port() int { return Port }

// Database returns the database created on first start.
func (p *Server) Database() string { return p.database }

// User returns the superuser created on first start.
func (p *Server) User() string { return p.user }

// PasswordSecret returns the name of the stack secret holding the password. A client
// service mounts it (stack.FileRef{Source: PasswordSecret()}) and reads the file at start.
func (p *Server) PasswordSecret() string { return p.password }

// DSN returns a libpq connection string without the password, safe to print and to write
// into configuration files, e.g. "host=db port=5432 dbname=gis user=postgres". The password
// comes from a password file (PGPASSFILE) made from the secret at container start.
func (p *Server) DSN() string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s", p.Host(), Port, p.database, p.user)
}

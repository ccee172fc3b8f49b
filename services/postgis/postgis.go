// Package postgis builds a PostgreSQL + PostGIS service for a Kargo stack.
//
// The image contract is the one of postgis/postgis (the official postgres image plus
// initdb-postgis.sh): POSTGRES_DB, POSTGRES_USER and POSTGRES_PASSWORD (or their *_FILE
// variants) take effect on an empty data directory (/var/lib/postgresql/data), files in
// /docker-entrypoint-initdb.d run in name order on first start (*.sh, *.sql, *.sql.gz), the
// PostGIS extensions are created in POSTGRES_DB, and the server listens on 5432. Kargo's own
// image (images/contexts/postgis, kargo/postgis:15-3.3) keeps that contract, so Config.Image
// can name postgis/postgis:15-3.3 instead.
//
// Kargo v0.18 (deploy/postgis.yml) passed the superuser password as a plain POSTGRES_PASSWORD
// environment value, visible to anyone who can inspect the service. This builder ships it as
// a Docker secret mounted as a file and read through POSTGRES_PASSWORD_FILE (generated when
// not given and never printed), checks health with pg_isready, keeps the data on a named
// volume and sets resource limits. The secret stays the truth: Kargo's image sets the role's
// password from the secret file at every start (over the local socket, before it listens on
// the network), so data kept in the volume open with a regenerated or rotated password, and a
// new secret value rolls the service and its clients (they mount the secret) on the next apply.
package postgis

import (
	"cmp"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kalisio/kargo/images"
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

// DefaultImage is Kargo's PostGIS image built from Debian packages.
func DefaultImage() string { return images.Ref("postgis") }

// DefaultResources of a PostGIS service.
var DefaultResources = stack.Resources{
	CPULimit: 1, MemoryLimit: 1 * stack.GiB,
	CPUReservation: 0.25, MemoryReservation: 256 * stack.MiB,
}

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

// Config describes a PostGIS service. The zero value is a usable database "postgres" owned
// by "postgres", named "postgis", with a generated password.
type Config struct {
	// Name of the service; default "postgis". Clients reach it at <Name>:5432.
	Name string
	// Image overrides DefaultImage(); it must keep the postgis/postgis contract.
	Image string
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
	// SharedBuffers and WorkMem set shared_buffers and work_mem, e.g. "256MB". Empty keeps
	// PostgreSQL's default.
	SharedBuffers string
	// WorkMem sets work_mem, e.g. "16MB"; empty keeps PostgreSQL's default.
	WorkMem string
	// MaxConnections sets max_connections (0 keeps PostgreSQL's default, 100).
	MaxConnections int
	// Settings are further server settings passed as -c name=value.
	Settings map[string]string
	// Replicas must stay 1 (0 means 1): one server owns one data volume.
	Replicas uint64
	// Env adds environment variables (never a password: use Password).
	Env map[string]string
	// Placement of the task, e.g. a node label where the volume lives.
	Placement stack.Placement
	// Resources; DefaultResources when zero.
	Resources stack.Resources
	// Networks the service joins; empty means the stack's default network.
	Networks []string
}

// Service is a PostGIS service: a *stack.Service (add it to a stack as is) that also knows
// how clients reach it.
type Service struct {
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

// New builds the PostGIS service. Configuration problems are recorded on the service
// (stack.Service.Problemf) and reported by Validate.
func New(cfg Config) *Service {
	name := cmp.Or(cfg.Name, "postgis")
	image := cfg.Image
	if image == "" {
		image = DefaultImage()
	}
	user := cmp.Or(cfg.User, DefaultUser)
	db := cmp.Or(cfg.Database, user)
	vol := cmp.Or(cfg.Volume, name+"-data")
	res := cmp.Or(cfg.Resources, DefaultResources)
	svc := &stack.Service{
		Name:         name,
		Image:        image,
		Env:          map[string]string{},
		Placement:    cfg.Placement,
		Resources:    res,
		Networks:     cfg.Networks,
		EndpointMode: stack.DNSRR,
		Replicas:     stack.Ptr(uint64(1)),
		Mounts:       []stack.Mount{{Type: stack.VolumeMount, Source: vol, Target: DataDir}},
		Declares:     stack.Objects{Volumes: []stack.Volume{{Name: vol}}},
		// PostgreSQL shuts down cleanly (fast mode) on SIGINT, the image's STOPSIGNAL; give
		// it time to write its checkpoint.
		StopGracePeriod: 30 * time.Second,
		// Two servers must never open the same data directory: stop the old task first.
		Update: &stack.UpdatePolicy{Order: stack.StopFirst},
	}
	if cfg.Replicas > 1 {
		svc.Problemf("config.replicas", "a PostGIS service runs one server on one data volume (got %d replicas)", cfg.Replicas)
	}
	if !identRE.MatchString(user) {
		svc.Problemf("config.user", "%q is not a valid PostgreSQL role name", user)
	}
	if !identRE.MatchString(db) {
		svc.Problemf("config.database", "%q is not a valid PostgreSQL database name", db)
	}
	for k, v := range cfg.Env {
		if strings.HasPrefix(k, "POSTGRES_PASSWORD") {
			svc.Problemf("config.env."+k, "the password is a secret: set Config.Password")
			continue
		}
		svc.Env[k] = v
	}
	svc.Env["POSTGRES_DB"] = db
	svc.Env["POSTGRES_USER"] = user

	sec := stack.Secret{Generate: 32}
	if cfg.Password != nil {
		sec = *cfg.Password
	}
	if sec.Name == "" {
		sec.Name = name + "-password"
	}
	svc.Declares.Secrets = append(svc.Declares.Secrets, sec)
	svc.Secrets = append(svc.Secrets, stack.FileRef{Source: sec.Name, Mode: 0o400})
	svc.Env["POSTGRES_PASSWORD_FILE"] = "/run/secrets/" + sec.Name

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
		keys := make([]string, 0, len(settings))
		for k := range settings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		args := []string{"postgres"}
		for _, k := range keys {
			args = append(args, "-c", k+"="+settings[k])
		}
		svc.Args = args
	}
	svc.Health = &stack.Health{
		// pg_isready over TCP: the server accepts connections from the network, not only
		// on its socket (which answers during first-start init, when TCP is off).
		Test:        []string{"CMD", "pg_isready", "-h", "127.0.0.1", "-p", strconv.Itoa(Port), "-U", user, "-d", db},
		Interval:    10 * time.Second,
		Timeout:     5 * time.Second,
		Retries:     5,
		StartPeriod: 60 * time.Second,
	}
	return &Service{Service: svc, database: db, user: user, password: sec.Name}
}

// Host returns the host name other services of the stack reach the server at (its name).
func (p *Service) Host() string { return p.Name }

// Port returns the server port, 5432.
func (p *Service) Port() int { return Port }

// Database returns the database created on first start.
func (p *Service) Database() string { return p.database }

// User returns the superuser created on first start.
func (p *Service) User() string { return p.user }

// PasswordSecret returns the name of the stack secret holding the password. A client
// service mounts it (stack.FileRef{Source: PasswordSecret()}) and reads the file at start.
func (p *Service) PasswordSecret() string { return p.password }

// DSN returns a libpq connection string without the password, safe to print and to write
// into configuration files, e.g. "host=db port=5432 dbname=gis user=postgres". The password
// comes from a password file (PGPASSFILE) made from the secret at container start.
func (p *Service) DSN() string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s", p.Host(), Port, p.database, p.user)
}

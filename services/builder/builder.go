// Package builder holds what every service builder of services/ shares, so each builder
// package only says what is particular to its product.
//
// A builder's Config embeds Common (the fields every service has), declares its defaults
// once in a Defaults value (unexported, so no caller can change another's defaults), and
// starts its service from Base:
//
//	// Config describes a pg_tileserv service.
//	type Config struct {
//		builder.Common
//		// Database is the PostGIS service the tiles are read from.
//		Database *postgis.Server
//	}
//
//	var defaults = builder.Defaults{
//		Name:      "tileserv",
//		Image:     images.Ref("tileserv"),
//		Resources: stack.Resources{CPULimit: 1, MemoryLimit: 256 * stack.MiB},
//	}
//
//	// New builds the pg_tileserv service.
//	func New(cfg Config) *stack.Service {
//		svc := builder.Base(cfg.Common, defaults)
//		pw := builder.MountSecret(svc, cfg.Database.PasswordSecret())
//		svc.Env["PGPASSWORD_FILE"] = pw
//		...
//		return svc
//	}
//
// Defaults that follow from the platform (endpoint mode, port mode, restart and update
// policies) are not a builder's business: stack.Defaulted owns them.
package builder

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/kalisio/kargo/stack"
)

// Common are the fields every service builder's Config has. Embed it:
//
//	postgis.Config{Common: builder.Common{Name: "db"}, Database: "gis"}
type Common struct {
	// Name of the service; the builder's default when empty. Other services of the stack
	// reach it at this host name.
	Name string
	// Image overrides the builder's default image; it must keep the contract the builder
	// documents.
	Image string
	// Replicas is the number of tasks; the builder's default when 0.
	Replicas uint64
	// Env adds environment variables. Builders refuse credentials here: they are secrets.
	Env map[string]string
	// Placement of the tasks: constraints, spread preferences, max replicas per node.
	Placement stack.Placement
	// Resources (limits and reservations); the builder's defaults when zero.
	Resources stack.Resources
	// Networks the service joins; empty means the stack's default network.
	Networks []string
}

// Defaults are a builder's own defaults for the Common fields. Declare them once, as an
// unexported package variable or in New.
type Defaults struct {
	// Name is the default service name, usually the product's name.
	Name string
	// Image is the default image reference, e.g. images.Ref("postgis").
	Image string
	// Replicas is the default task count; 0 means 1.
	Replicas uint64
	// Resources are the default limits and reservations.
	Resources stack.Resources
}

// Base returns the service a builder starts from: Common's fields, each falling back on
// its default. Env is never nil (a builder adds to it); Networks and Env are copies, so the
// builder may change them without touching the caller's Config.
func Base(c Common, d Defaults) *stack.Service {
	svc := &stack.Service{
		Name:      cmp.Or(c.Name, d.Name),
		Image:     cmp.Or(c.Image, d.Image),
		Replicas:  stack.Ptr(cmp.Or(c.Replicas, d.Replicas, 1)),
		Env:       map[string]string{},
		Placement: c.Placement,
		Resources: cmp.Or(c.Resources, d.Resources),
		Networks:  slices.Clone(c.Networks),
	}
	maps.Copy(svc.Env, c.Env)
	return svc
}

// RefuseEnv removes from svc.Env every variable whose name starts with one of prefixes and
// records a problem at config.env.<NAME> telling the user which field takes the value
// instead (a secret, usually). Builders call it after Base for the variables that carry
// credentials, so a password never travels as a plain environment value.
func RefuseEnv(svc *stack.Service, field string, prefixes ...string) {
	for _, k := range slices.Sorted(maps.Keys(svc.Env)) {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				delete(svc.Env, k)
				svc.Problemf("config.env."+k, "%s is a credential: set Config.%s", k, field)
				break
			}
		}
	}
}

// Secret returns the secret a builder declares for a credential: the user's (when given)
// or one generated with n characters, named name when the user gave no name.
func Secret(given *stack.Secret, name string, n int) stack.Secret {
	sec := stack.Secret{}
	if given != nil {
		sec = *given
	}
	if !sec.HasSource() {
		sec.Generate = n
	}
	if sec.Name == "" {
		sec.Name = name
	}
	return sec
}

// DeclareSecret declares sec on svc, mounts it read-only for the service's user and
// returns the path the service reads it at.
func DeclareSecret(svc *stack.Service, sec stack.Secret) string {
	svc.Declares.Secrets = append(svc.Declares.Secrets, sec)
	return MountSecret(svc, sec.Name)
}

// MountSecret mounts the stack secret name (declared by this service or another, e.g. the
// PostGIS password a client reads) into svc and returns the path the service reads it at.
func MountSecret(svc *stack.Service, name string) string {
	for _, r := range svc.Secrets {
		if r.Source == name && r.Target == "" {
			return stack.SecretPath(name)
		}
	}
	svc.Secrets = append(svc.Secrets, stack.FileRef{Source: name, Mode: 0o400})
	return stack.SecretPath(name)
}

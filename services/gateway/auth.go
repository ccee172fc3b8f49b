package gateway

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"

	"github.com/kalisio/kargo/stack"
	"golang.org/x/crypto/bcrypt"
)

// BcryptCost is the cost of the password hashes New makes.
const BcryptCost = 10

// AuthPath is where the basic-auth secret is mounted: the Caddyfile imports the basicauth
// directive (user and password hash) from it, so neither is in the Caddyfile, a Swarm config
// that `docker config inspect`, `render --format json` and compose exports show.
const AuthPath = "/run/secrets/gateway-basicauth"

// authMatcher names the requests that need credentials (set in the Caddyfile).
const authMatcher = "@auth"

var userRE = regexp.MustCompile(`^[A-Za-z0-9._@-]+$`)

// basicAuth checks the credentials and returns the secret holding the Caddyfile's basicauth
// directive: the user and a bcrypt hash of the password with a random salt. A new hash is made
// on every build, so the secret's Identity is what the directive is made from (user, realm,
// password): Kargo keeps the existing secret, and its hash, while they stay the same, and
// applying again changes nothing. A given PasswordHash is used as it is.
func basicAuth(svc *stack.Service, name string, a *BasicAuth) (stack.Secret, bool) {
	bad := false
	if !userRE.MatchString(a.User) {
		svc.Problemf("config.basicAuth.user", "is required (letters, digits, '.', '_', '@', '-')")
		bad = true
	}
	hash := a.PasswordHash
	var identity []byte
	switch {
	case a.Password != "" && a.PasswordHash != "":
		svc.Problemf("config.basicAuth", "give either password or passwordHash, not both")
		return stack.Secret{}, false
	case a.PasswordHash != "":
		if _, err := bcrypt.Cost([]byte(a.PasswordHash)); err != nil {
			svc.Problemf("config.basicAuth.passwordHash", "is not a bcrypt hash: %v", err)
			bad = true
		}
	case a.Password != "":
		h, err := HashPassword(a.Password)
		if err != nil {
			svc.Problemf("config.basicAuth.password", "%v", err)
			bad = true
		}
		hash = h
	default:
		svc.Problemf("config.basicAuth.password", "is required")
		bad = true
	}
	if bad {
		return stack.Secret{}, false
	}
	realm := a.Realm
	if realm == "" {
		realm = "restricted"
	}
	realm = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, realm)
	// Caddy 2.6 wants the hash base64-encoded.
	directive := fmt.Sprintf("basicauth %s bcrypt %q {\n\t%s %s\n}\n", authMatcher, realm, a.User,
		base64.StdEncoding.EncodeToString([]byte(hash)))
	if a.Password != "" {
		// The format version comes first: a change of the directive's shape makes a new secret.
		identity = []byte("kargo-gateway-basicauth/1\x00" + a.User + "\x00" + realm + "\x00" + a.Password)
	}
	return stack.Secret{Name: name, Data: []byte(directive), Identity: identity}, true
}

// HashPassword returns a bcrypt hash ($2a$, cost BcryptCost, random salt) of a password, as
// bcrypt.CompareHashAndPassword and Caddy's basicauth check it.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		return "", fmt.Errorf("bcrypt takes passwords of at most 72 bytes, got %d", len(password))
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	return string(h), err
}

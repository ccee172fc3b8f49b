package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"

	"github.com/kalisio/kargo/stack"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/blowfish"
)

// BcryptCost is the cost of the password hashes New makes.
const BcryptCost = 10

var userRE = regexp.MustCompile(`^[A-Za-z0-9._@-]+$`)

func basicAuth(svc *stack.Service, a *BasicAuth) *authLine {
	bad := false
	if !userRE.MatchString(a.User) {
		svc.Problemf("config.basicAuth.user", "is required (letters, digits, '.', '_', '@', '-')")
		bad = true
	}
	hash := a.PasswordHash
	switch {
	case a.Password != "" && a.PasswordHash != "":
		svc.Problemf("config.basicAuth", "give either password or passwordHash, not both")
		return nil
	case a.PasswordHash != "":
		if _, err := bcrypt.Cost([]byte(a.PasswordHash)); err != nil {
			svc.Problemf("config.basicAuth.passwordHash", "is not a bcrypt hash: %v", err)
			bad = true
		}
	case a.Password != "":
		h, err := HashPassword(a.User, a.Password)
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
		return nil
	}
	realm := a.Realm
	if realm == "" {
		realm = "restricted"
	}
	realm = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' {
			return -1
		}
		return r
	}, realm)
	return &authLine{User: a.User, Hash: base64.StdEncoding.EncodeToString([]byte(hash)), Realm: realm}
}

// HashPassword returns the bcrypt hash ($2a$, cost BcryptCost) of a user's password, with a
// salt derived from the password and the user (HMAC-SHA256), so the same credentials always
// give the same hash: the gateway's configuration stays the same from one run to the next and
// applying again does not restart it. bcrypt.CompareHashAndPassword accepts the result.
func HashPassword(user, password string) (string, error) {
	if len(password) > 72 {
		return "", fmt.Errorf("bcrypt takes passwords of at most 72 bytes, got %d", len(password))
	}
	mac := hmac.New(sha256.New, []byte(password))
	mac.Write([]byte("kargo-gateway-basicauth\x00" + user))
	return bcryptSalted([]byte(password), BcryptCost, mac.Sum(nil)[:16])
}

// bcrypt's own base64 alphabet.
var bcEncoding = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

// bcryptSalted is bcrypt (as golang.org/x/crypto/bcrypt computes it) with a given 16-byte salt.
func bcryptSalted(password []byte, cost int, salt []byte) (string, error) {
	encSalt := bcEncoding.EncodeToString(salt) // 22 characters
	csalt, err := bcEncoding.DecodeString(encSalt)
	if err != nil {
		return "", err
	}
	ckey := append(append([]byte{}, password...), 0)
	c, err := blowfish.NewSaltedCipher(ckey, csalt)
	if err != nil {
		return "", err
	}
	for i := uint64(0); i < 1<<uint(cost); i++ {
		blowfish.ExpandKey(ckey, c)
		blowfish.ExpandKey(csalt, c)
	}
	data := []byte("OrpheanBeholderScryDoubt")
	for i := 0; i < 24; i += 8 {
		for j := 0; j < 64; j++ {
			c.Encrypt(data[i:i+8], data[i:i+8])
		}
	}
	return fmt.Sprintf("$2a$%02d$%s%s", cost, encSalt, bcEncoding.EncodeToString(data[:23])), nil
}

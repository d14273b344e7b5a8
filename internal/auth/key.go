// Package auth makes and checks Ferry's credentials: API keys and agent keys
// ("<id>.<secret>", only a hash kept) and static admin passwords (bcrypt).
//
// Keys carry 256 bits from crypto/rand, so a fast hash (SHA-256) stored in
// place of the key is as safe as a slow one and keeps verification off the
// agents' hot path; passwords, which people choose, get bcrypt.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferrycd/ferry/internal/model"
)

// NewKey returns a fresh key for the object with the given id, and the hash
// to store. The key is shown once and never kept.
func NewKey(id string) (key, hash string) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	s := base64.RawURLEncoding.EncodeToString(secret)
	return id + "." + s, HashSecret(s)
}

// HashSecret returns the stored form of a key's secret part.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SplitKey parses "<id>.<secret>". A malformed key is KindUnauthenticated
// so callers can return it as is.
func SplitKey(key string) (id, secret string, err error) {
	id, secret, ok := strings.Cut(strings.TrimSpace(key), ".")
	if !ok || id == "" || secret == "" {
		return "", "", &model.Error{Kind: model.KindUnauthenticated, Message: "malformed key: want <id>.<secret>"}
	}
	return id, secret, nil
}

// MatchSecret reports whether secret hashes to one of hashes, in constant
// time for each comparison.
func MatchSecret(secret string, hashes ...string) bool {
	got := []byte(HashSecret(secret))
	ok := false
	for _, h := range hashes {
		if subtle.ConstantTimeCompare(got, []byte(h)) == 1 {
			ok = true
		}
	}
	return ok
}

// NewPassword returns a random password for a generated static admin.
func NewPassword() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashPassword returns the bcrypt hash of a password.
func HashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", model.Invalid("hash password: %v", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw matches a bcrypt hash.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// ValidPasswordHash reports whether s looks like a bcrypt hash, so a bad
// value in a config file is caught at start rather than at first sign-in.
func ValidPasswordHash(s string) bool {
	_, err := bcrypt.Cost([]byte(s))
	return err == nil
}

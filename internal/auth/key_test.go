package auth

import (
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
)

func TestKeyRoundTrip(t *testing.T) {
	key, hash := NewKey("agent-1")
	id, secret, err := SplitKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if id != "agent-1" {
		t.Errorf("id = %q, want agent-1", id)
	}
	if !MatchSecret(secret, "other", hash) {
		t.Error("the key's own hash does not match")
	}
	if MatchSecret(secret+"x", hash) {
		t.Error("a changed secret matches")
	}
	if strings.Contains(hash, secret) {
		t.Error("hash contains the secret")
	}
}

func TestSplitKeyRefusesMalformedKeys(t *testing.T) {
	for _, k := range []string{"", "nodot", ".secret", "id.", "  "} {
		if _, _, err := SplitKey(k); !model.IsKind(err, model.KindUnauthenticated) {
			t.Errorf("SplitKey(%q) = %v, want unauthenticated", k, err)
		}
	}
}

func TestPassword(t *testing.T) {
	pw := NewPassword()
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidPasswordHash(h) || ValidPasswordHash("plain") {
		t.Error("ValidPasswordHash misjudges")
	}
	if !CheckPassword(h, pw) || CheckPassword(h, pw+"x") {
		t.Error("CheckPassword misjudges")
	}
}

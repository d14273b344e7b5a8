package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/store/postgres"
	"github.com/ferrycd/ferry/internal/store/storetest"
	"github.com/ferrycd/ferry/internal/testenv"
)

func open(t *testing.T) store.Store {
	s, err := postgres.Open(context.Background(), testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestADatabaseThatIsDownIsUnavailableWithoutThePassword(t *testing.T) {
	// Port 1 on loopback refuses connections.
	_, err := postgres.Open(context.Background(), "postgres://ferry:s3cret@127.0.0.1:1/ferry?sslmode=disable&connect_timeout=2")
	if !model.IsKind(err, model.KindUnavailable) {
		t.Fatalf("Open = %v, want unavailable", err)
	}
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q must name the server and never the password", err)
	}
}

package filestore

import (
	"context"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
)

func TestFileStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "file://"+t.TempDir()+"/blobs")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, "logs/a/b.json"); !model.IsKind(err, model.KindNotFound) {
		t.Fatalf("Get of a missing key = %v, want not found", err)
	}
	if err := s.Put(ctx, "logs/a/b.json", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "logs/a/b.json", []byte("two")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "logs/a/b.json")
	if err != nil || string(got) != "two" {
		t.Fatalf("Get = %q, %v; want two", got, err)
	}
	if err := s.Delete(ctx, "logs/a/b.json"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "logs/a/b.json"); !model.IsKind(err, model.KindNotFound) {
		t.Errorf("second Delete = %v, want not found", err)
	}
}

func TestOpenRefusesUnknownSchemes(t *testing.T) {
	if _, err := Open(context.Background(), "ftp://host/dir"); !model.IsKind(err, model.KindInvalid) {
		t.Errorf("Open(ftp://) = %v, want invalid", err)
	}
}

package filestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

// TestMain shares one MinIO server among the package's s3:// tests.
func TestMain(m *testing.M) { testenv.RunWithMinIO(m) }

// backends are the stores every conformance test runs against; open returns
// the URL of a new, empty store for t alone.
var backends = []struct {
	name string
	open func(t *testing.T) string
}{
	{"file", func(t *testing.T) string { return "file://" + t.TempDir() + "/blobs" }},
	{"s3 on MinIO", func(t *testing.T) string { return testenv.MinIO(t).URL }},
}

// conformance lists what every backend must do, each case on a new store.
var conformance = []struct {
	name string
	test func(t *testing.T, s *Store)
}{
	{"a value put is got back, and a second put replaces it", testPutGet},
	{"a missing key is not found for get and delete", testMissingKey},
	{"a deleted key is gone and a second delete is not found", testDelete},
	{"list returns every key under a prefix in order", testList},
	{"an empty value round-trips", testEmptyValue},
	{"a value of several MiB round-trips intact", testLargeValue},
	{"errors name the store and the key", testErrorNamesStoreAndKey},
}

func TestStoreConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range conformance {
				t.Run(c.name, func(t *testing.T) {
					c.test(t, open(t, b.open(t)))
				})
			}
		})
	}
}

// open opens rawURL and closes the store when t ends.
func open(t *testing.T, rawURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), rawURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustPut(t *testing.T, s *Store, key, value string) {
	t.Helper()
	if err := s.Put(context.Background(), key, []byte(value)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func testPutGet(t *testing.T, s *Store) {
	ctx := context.Background()
	mustPut(t, s, "logs/a/b.json", "one")
	mustPut(t, s, "logs/a/b.json", "two")
	got, err := s.Get(ctx, "logs/a/b.json")
	if err != nil || string(got) != "two" {
		t.Fatalf("Get = %q, %v; want two", got, err)
	}
}

func testMissingKey(t *testing.T, s *Store) {
	ctx := context.Background()
	if _, err := s.Get(ctx, "logs/missing.json"); !model.IsKind(err, model.KindNotFound) {
		t.Errorf("Get of a missing key = %v (kind %s), want not found", err, model.KindOf(err))
	}
	if err := s.Delete(ctx, "logs/missing.json"); !model.IsKind(err, model.KindNotFound) {
		t.Errorf("Delete of a missing key = %v (kind %s), want not found", err, model.KindOf(err))
	}
}

func testDelete(t *testing.T, s *Store) {
	ctx := context.Background()
	mustPut(t, s, "snapshots/app-1", "state")
	mustPut(t, s, "snapshots/app-2", "kept")
	if err := s.Delete(ctx, "snapshots/app-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "snapshots/app-1"); !model.IsKind(err, model.KindNotFound) {
		t.Errorf("Get after Delete = %v, want not found", err)
	}
	if err := s.Delete(ctx, "snapshots/app-1"); !model.IsKind(err, model.KindNotFound) {
		t.Errorf("second Delete = %v, want not found", err)
	}
	if got, err := s.Get(ctx, "snapshots/app-2"); err != nil || string(got) != "kept" {
		t.Errorf("Get of the other key = %q, %v; want kept", got, err)
	}
}

func testList(t *testing.T, s *Store) {
	ctx := context.Background()
	for _, k := range []string{"logs/d2/s1/0002", "logs/d1/s1/0001", "logs/d1/s2/0001", "logs/d10/x", "snapshots/a", "logs/d1/s1/0002"} {
		mustPut(t, s, k, k)
	}
	for _, tt := range []struct {
		prefix string
		want   []string
	}{
		{"logs/d1/", []string{"logs/d1/s1/0001", "logs/d1/s1/0002", "logs/d1/s2/0001"}},
		{"logs/d1", []string{"logs/d1/s1/0001", "logs/d1/s1/0002", "logs/d1/s2/0001", "logs/d10/x"}},
		{"", []string{"logs/d1/s1/0001", "logs/d1/s1/0002", "logs/d1/s2/0001", "logs/d10/x", "logs/d2/s1/0002", "snapshots/a"}},
		{"nothing/", nil},
	} {
		got, err := s.List(ctx, tt.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tt.prefix, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("List(%q) (-want +got):\n%s", tt.prefix, diff)
		}
	}
	if err := s.Delete(ctx, "logs/d1/s1/0002"); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx, "logs/d1/s1/")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"logs/d1/s1/0001"}, got); diff != "" {
		t.Errorf("List after Delete (-want +got):\n%s", diff)
	}
}

func testEmptyValue(t *testing.T, s *Store) {
	mustPut(t, s, "empty", "")
	got, err := s.Get(context.Background(), "empty")
	if err != nil || len(got) != 0 {
		t.Fatalf("Get = %q, %v; want an empty value", got, err)
	}
}

func testLargeValue(t *testing.T, s *Store) {
	ctx := context.Background()
	// More than S3's 5 MiB multipart threshold and not a whole number of
	// parts, so an S3 upload takes several parts, the last one short.
	want := make([]byte, 12<<20+12345)
	if _, err := rand.Read(want); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "logs/big", want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "logs/big")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(want))
	}
}

func testErrorNamesStoreAndKey(t *testing.T, s *Store) {
	_, err := s.Get(context.Background(), "logs/nope")
	var me *model.Error
	if !errors.As(err, &me) {
		t.Fatalf("Get of a missing key = %v, want a *model.Error", err)
	}
	for _, want := range []string{s.where, "read logs/nope", "not found"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestOpenRefusesUnknownSchemes(t *testing.T) {
	if _, err := Open(context.Background(), "ftp://host/dir"); !model.IsKind(err, model.KindInvalid) {
		t.Errorf("Open(ftp://) = %v, want invalid", err)
	}
}

func TestOpenHidesThePasswordOfABadURL(t *testing.T) {
	const secret = "hunter2-in-the-url"
	_, err := Open(context.Background(), "s3://ferry:"+secret+"@bucket/%zz")
	if !model.IsKind(err, model.KindInvalid) {
		t.Fatalf("Open of an unparsable URL = %v, want invalid", err)
	}
	assertNoSecret(t, err, secret)
}

package filestore

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

// These tests run against a real MinIO server (testenv.MinIO); the
// conformance suite in filestore_test.go covers the ordinary operations.

func TestS3MissingBucketFailsOpenNamingTheURL(t *testing.T) {
	env := testenv.MinIO(t)
	rawURL := env.BucketURL("ferry-no-such-bucket")
	_, err := Open(context.Background(), rawURL)
	if !model.IsKind(err, model.KindFailedPrecondition) {
		t.Fatalf("Open of a missing bucket = %v (kind %s), want failed precondition", err, model.KindOf(err))
	}
	for _, want := range []string{rawURL, "bucket does not exist"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	assertNoSecret(t, err, env.SecretKey)
}

func TestS3WrongCredentialsFailOpenWithoutLeakingThem(t *testing.T) {
	for _, tt := range []struct {
		name, accessKey, secretKey string
	}{
		{"an unknown access key", "ferry-nobody", "wrong-secret-0123456789"},
		{"a known access key with the wrong secret", "", "wrong-secret-9876543210"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := testenv.MinIO(t)
			if tt.accessKey != "" {
				t.Setenv("AWS_ACCESS_KEY_ID", tt.accessKey)
			}
			t.Setenv("AWS_SECRET_ACCESS_KEY", tt.secretKey)
			_, err := Open(context.Background(), env.URL)
			if !model.IsKind(err, model.KindPermissionDenied) {
				t.Fatalf("Open with wrong credentials = %v (kind %s), want permission denied", err, model.KindOf(err))
			}
			for _, want := range []string{env.URL, "credentials rejected"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			assertNoSecret(t, err, tt.secretKey, env.SecretKey)
		})
	}
}

// An operation on a bucket that went away after Open says so, rather than
// passing for a missing key, which callers treat as "nothing archived".
func TestS3BucketRemovedAfterOpenIsNotAMissingKey(t *testing.T) {
	env := testenv.MinIO(t)
	s := open(t, env.URL)
	gone := open(t, env.URL) // a second handle, to empty the bucket through
	mustPut(t, gone, "k", "v")
	if err := gone.Delete(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	env.RemoveBucket(t)
	_, err := s.Get(context.Background(), "k")
	if !model.IsKind(err, model.KindFailedPrecondition) || !strings.Contains(err.Error(), "bucket does not exist") {
		t.Errorf("Get from a removed bucket = %v (kind %s), want failed precondition saying the bucket does not exist", err, model.KindOf(err))
	}
}

func TestS3UnreachableEndpointIsUnavailable(t *testing.T) {
	env := testenv.MinIO(t) // for the environment: credentials, no AWS config
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("endpoint", "http://"+addr)
	u.RawQuery = q.Encode()
	_, err = Open(context.Background(), u.String())
	if !model.IsKind(err, model.KindUnavailable) || !model.KindOf(err).Retryable() {
		t.Errorf("Open of an unreachable endpoint = %v (kind %s), want unavailable", err, model.KindOf(err))
	}
}

// A password put in the URL (which s3:// does not use, but a user may try)
// never shows in an error.
func TestS3PasswordInTheURLIsRedacted(t *testing.T) {
	env := testenv.MinIO(t)
	const secret = "hunter2-in-the-url"
	for _, tt := range []struct{ name, query string }{
		{"an unknown option", "&no_such_option=1"},
		{"a missing bucket", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(env.BucketURL("ferry-no-such-bucket") + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			u.User = url.UserPassword("ferry", secret)
			_, err = Open(context.Background(), u.String())
			if err == nil {
				t.Fatal("Open succeeded, want an error")
			}
			if !strings.Contains(err.Error(), u.Redacted()) {
				t.Errorf("error %q does not name the redacted URL %s", err, u.Redacted())
			}
			assertNoSecret(t, err, secret)
		})
	}
}

// assertNoSecret fails t if any error in err's tree mentions a secret: the
// tree is what a log line with the error, or with its cause, shows.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error leaks a secret: %q", err)
		}
	}
	switch e := err.(type) { //nolint:errorlint // walking the tree by hand
	case interface{ Unwrap() error }:
		assertNoSecret(t, e.Unwrap(), secrets...)
	case interface{ Unwrap() []error }:
		for _, e := range e.Unwrap() {
			assertNoSecret(t, e, secrets...)
		}
	}
}

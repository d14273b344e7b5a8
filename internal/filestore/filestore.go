// Package filestore keeps Ferry's large values — archived stage logs,
// live-state snapshots — in a blob store named by a URL: file:///dir for a
// local folder, s3://bucket?… for S3, MinIO and other S3-compatible stores,
// gs://bucket for Google Cloud Storage. It is a thin layer over gocloud.dev's
// blob package that speaks Ferry's error kinds.
//
// An s3:// URL takes gocloud.dev's options, for MinIO
//
//	s3://bucket?endpoint=http://127.0.0.1:9000&region=us-east-1&use_path_style=true&disable_https=true
//
// and the AWS SDK's usual credentials (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, a profile, an instance role); the URL carries none.
package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs:// URLs
	_ "gocloud.dev/blob/s3blob"  // s3:// URLs
	"gocloud.dev/gcerrors"

	"github.com/ferrycd/ferry/internal/model"
)

// Store is an open blob store. Methods are safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
	where  string // the URL without its password, for messages
}

// Open opens the blob store at rawURL. A file:// folder is created if
// missing; any other store is checked to exist and accept the credentials,
// so that a wrong URL fails here rather than at the first archived log.
// Errors name the URL with any password redacted.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, model.Invalid("filestore URL: %v", err)
	}
	where := u.Redacted()
	var b *blob.Bucket
	if u.Scheme == "file" {
		if err := os.MkdirAll(u.Path, 0o700); err != nil {
			return nil, fmt.Errorf("create filestore folder: %w", err)
		}
		// Metadata sidecar files are useless here and double the file count.
		b, err = fileblob.OpenBucket(u.Path, &fileblob.Options{Metadata: fileblob.MetadataDontWrite})
	} else {
		b, err = blob.OpenBucket(ctx, rawURL)
	}
	if err != nil {
		return nil, model.Invalid("open filestore %s: %s", where, redact(err.Error(), u, rawURL))
	}
	s := &Store{bucket: b, where: where}
	if u.Scheme != "file" {
		if err := s.check(ctx); err != nil {
			return nil, errors.Join(err, b.Close())
		}
	}
	return s, nil
}

// check makes sure the bucket exists and the credentials are accepted.
func (s *Store) check(ctx context.Context) error {
	ok, err := s.bucket.IsAccessible(ctx)
	if err != nil {
		return s.wrap("open", "bucket", err)
	}
	if !ok {
		return &model.Error{Kind: model.KindFailedPrecondition, Message: fmt.Sprintf("filestore %s: bucket does not exist", s.where)}
	}
	return nil
}

// Put writes data under key, replacing what was there.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	if err := s.bucket.WriteAll(ctx, key, data, nil); err != nil {
		return s.wrap("write", key, err)
	}
	return nil
}

// Get reads the value under key; a missing key is model.KindNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := s.bucket.ReadAll(ctx, key)
	if err != nil {
		return nil, s.wrap("read", key, err)
	}
	return data, nil
}

// Delete removes key; a missing key is model.KindNotFound.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.bucket.Delete(ctx, key); err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

// List returns the keys that start with prefix, in lexical order, all of
// them: "folders" are not collapsed. An empty result is not an error.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return keys, nil
		}
		if err != nil {
			return nil, s.wrap("list", prefix+"*", err)
		}
		keys = append(keys, obj.Key)
	}
}

// Close releases the store.
func (s *Store) Close() error { return s.bucket.Close() }

// apiError is what an S3 service error (smithy-go's APIError) offers;
// matching the methods keeps the AWS SDK out of this package's imports.
type apiError interface {
	ErrorCode() string
	ErrorMessage() string
}

// wrap turns a gocloud.dev error into a *model.Error whose message names
// the store, the operation and the key, and says what went wrong in a few
// words; the original error stays wrapped for logs. Cancellation passes
// through unchanged.
func (s *Store) wrap(op, key string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	kind, msg := classify(err)
	return &model.Error{Kind: kind, Message: fmt.Sprintf("filestore %s: %s %s: %s", s.where, op, key, msg), Err: err}
}

// classify returns an error's kind and a short description. S3 error codes
// come first: gocloud.dev reports a missing bucket as a missing key, and
// rejected credentials as Unknown, which would read as retryable.
func classify(err error) (model.ErrorKind, string) {
	var ae apiError
	if errors.As(err, &ae) {
		switch code := ae.ErrorCode(); code {
		case "NoSuchBucket":
			return model.KindFailedPrecondition, "bucket does not exist"
		case "NoSuchKey", "NotFound":
			return model.KindNotFound, "not found"
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
			return model.KindPermissionDenied, fmt.Sprintf("credentials rejected (%s: %s)", code, ae.ErrorMessage())
		case "AccessDenied", "Forbidden":
			return model.KindPermissionDenied, fmt.Sprintf("access denied (%s: %s)", code, ae.ErrorMessage())
		}
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return model.KindNotFound, "not found"
	case gcerrors.PermissionDenied:
		return model.KindPermissionDenied, "access denied: " + err.Error()
	case gcerrors.ResourceExhausted, gcerrors.DeadlineExceeded, gcerrors.Internal, gcerrors.Unknown:
		return model.KindUnavailable, err.Error()
	}
	return model.KindInternal, err.Error()
}

// redact removes rawURL's password from msg, however the URL was quoted.
func redact(msg string, u *url.URL, rawURL string) string {
	msg = strings.ReplaceAll(msg, rawURL, u.Redacted())
	msg = strings.ReplaceAll(msg, u.String(), u.Redacted())
	if pw, ok := u.User.Password(); ok && pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	return msg
}

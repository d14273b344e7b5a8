// Package filestore keeps Ferry's large values — archived stage logs,
// live-state snapshots — in a blob store named by a URL: file:///dir for a
// local folder, s3://bucket?… for S3, MinIO and other S3-compatible stores,
// gs://bucket for Google Cloud Storage. It is a thin layer over gocloud.dev's
// blob package that speaks Ferry's error kinds.
package filestore

import (
	"context"
	"errors"
	"fmt"
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
	where  string
}

// Open opens the blob store at rawURL. A file:// folder is created if
// missing.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
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
		return nil, model.Invalid("open filestore %s: %v", where, err)
	}
	return &Store{bucket: b, where: where}, nil
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

// Close releases the store.
func (s *Store) Close() error { return s.bucket.Close() }

func (s *Store) wrap(op, key string, err error) error {
	kind := model.KindInternal
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		kind = model.KindNotFound
	case gcerrors.PermissionDenied:
		kind = model.KindPermissionDenied
	case gcerrors.ResourceExhausted, gcerrors.DeadlineExceeded, gcerrors.Internal, gcerrors.Unknown:
		kind = model.KindUnavailable
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 && kind == model.KindNotFound {
		msg = "not found"
	}
	return &model.Error{Kind: kind, Message: fmt.Sprintf("filestore %s: %s %s: %s", s.where, op, key, msg), Err: err}
}

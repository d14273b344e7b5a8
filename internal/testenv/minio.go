package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MinIOVersion is the github.com/minio/minio pseudo-version
// hack/minio/go.mod pins; it names the default cache folder.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// MinIOBinEnv names the variable holding the directory of the minio binary,
// the last line `bash hack/minio/build.sh` prints.
const MinIOBinEnv = "FERRY_MINIO_BIN"

// MinIOCacheEnv names the variable that moves build.sh's cache folder, as
// it does for the script; the binary is then looked for in its bin folder.
const MinIOCacheEnv = "FERRY_MINIO_CACHE"

// RequireMinIOEnv names the variable that, set to 1, makes tests that need
// MinIO fail rather than skip when its binary is missing (CI sets it).
const RequireMinIOEnv = "FERRY_TEST_REQUIRE_MINIO"

// MinIORegion is the region the server and the URLs MinIO returns use.
const MinIORegion = "us-east-1"

// ErrNoMinIO is wrapped by FindMinIO's error when the minio binary is not
// where it was looked for.
var ErrNoMinIO = errors.New("minio binary not found")

// minio is the package's shared server: started by the first MinIO call,
// stopped by RunWithMinIO when the tests are done.
var minio struct {
	enabled bool // RunWithMinIO runs the package
	once    sync.Once
	server  *minioServer
	err     error
}

var bucketSeq atomic.Int64

// RunWithMinIO runs the package's tests, m.Run, with one MinIO server shared
// by all of them, and exits with their result. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.RunWithMinIO(m) }
//
// The server starts when a test first calls MinIO, so a run that selects no
// such test pays nothing, and stops, its data folder removed, when m.Run
// returns. Should the test binary die first (a -timeout panic), Linux kills
// the server with it.
func RunWithMinIO(m *testing.M) {
	minio.enabled = true
	code := m.Run()
	if minio.server != nil {
		if err := minio.server.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// MinIOEnv is one test's view of the shared MinIO server.
type MinIOEnv struct {
	// URL opens Bucket with filestore.Open (or gocloud.dev's blob.OpenBucket):
	// s3://<bucket>?endpoint=…&region=…&use_path_style=true&disable_https=true.
	// It carries no credentials; MinIO sets them in the test's environment.
	URL string
	// Bucket is a new, empty bucket for this test alone, removed when it ends.
	Bucket string
	// Endpoint is the server's base URL, http://127.0.0.1:<port>.
	Endpoint string
	// AccessKey and SecretKey are the server's root credentials, also set as
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the test.
	AccessKey, SecretKey string

	server  *minioServer
	removed bool
}

// RemoveBucket deletes Bucket and everything in it now, for tests of what
// happens when a bucket goes away.
func (e *MinIOEnv) RemoveBucket(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.server.removeBucket(ctx, e.Bucket); err != nil {
		t.Fatalf("remove bucket %s: %v", e.Bucket, err)
	}
	e.removed = true
}

// BucketURL returns the URL of the named bucket on the same server, in the
// form of URL; the bucket need not exist.
func (e *MinIOEnv) BucketURL(bucket string) string {
	q := url.Values{}
	q.Set("endpoint", e.Endpoint)
	q.Set("region", MinIORegion)
	q.Set("use_path_style", "true")
	q.Set("disable_https", "true")
	return (&url.URL{Scheme: "s3", Host: bucket, RawQuery: q.Encode()}).String()
}

// MinIO returns the package's shared MinIO server with a fresh bucket for t.
// The package's TestMain must call RunWithMinIO. The server's credentials
// are put in t's environment the way the AWS SDK reads them, with the
// shared AWS config files pointed at an empty one so that nothing of the
// user's leaks in; t therefore cannot be parallel. When the binary is
// missing the test is skipped, saying how to build it, or fails when
// FERRY_TEST_REQUIRE_MINIO=1; any other start-up failure fails the test.
func MinIO(t testing.TB) *MinIOEnv {
	t.Helper()
	if !minio.enabled {
		t.Fatal("testenv.MinIO needs the package's TestMain to call testenv.RunWithMinIO(m)")
	}
	minio.once.Do(startMinIO)
	if minio.err != nil {
		if errors.Is(minio.err, ErrNoMinIO) {
			skipMissing(t, "MinIO", RequireMinIOEnv, minio.err)
		}
		t.Fatalf("MinIO server: %v", minio.err)
	}
	srv := minio.server
	env := &MinIOEnv{Endpoint: srv.endpoint, AccessKey: srv.accessKey, SecretKey: srv.secretKey, server: srv}
	env.Bucket = namespacePrefix(t.Name()) + strconv.FormatInt(bucketSeq.Add(1), 10)
	env.URL = env.BucketURL(env.Bucket)

	empty := filepath.Join(t.TempDir(), "aws-config")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           env.AccessKey,
		"AWS_SECRET_ACCESS_KEY":       env.SecretKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(env.Bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", env.Bucket, err)
	}
	t.Cleanup(func() {
		if env.removed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.removeBucket(ctx, env.Bucket); err != nil {
			t.Errorf("remove bucket %s: %v", env.Bucket, err)
		}
	})
	return env
}

// FindMinIO returns the path of the minio binary: in $FERRY_MINIO_BIN, or
// else in the bin folder of build.sh's cache ($FERRY_MINIO_CACHE, or the
// user cache folder keyed by MinIOVersion). The error wraps ErrNoMinIO and
// says how to build it.
func FindMinIO() (string, error) {
	dir, from := os.Getenv(MinIOBinEnv), "$"+MinIOBinEnv
	if dir == "" {
		from = "the default cache"
		cache := os.Getenv(MinIOCacheEnv)
		if cache != "" {
			from = "$" + MinIOCacheEnv
		} else if base, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(base, "ferry", "minio", MinIOVersion)
		}
		if cache != "" {
			dir = filepath.Join(cache, "bin")
		}
	}
	if dir == "" {
		return "", fmt.Errorf("%w: no %s and no user cache folder; run `bash hack/minio/build.sh` and set %s to the directory it prints",
			ErrNoMinIO, MinIOBinEnv, MinIOBinEnv)
	}
	bin := filepath.Join(dir, "minio")
	if info, err := os.Stat(bin); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s (from %s) has no minio program; run `bash hack/minio/build.sh` and set %s to the directory it prints",
			ErrNoMinIO, dir, from, MinIOBinEnv)
	}
	return bin, nil
}

// startMinIO starts the shared server, recording the outcome in minio.
func startMinIO() {
	bin, err := FindMinIO()
	if err != nil {
		minio.err = err
		return
	}
	begin := time.Now()
	// A port found free may be taken before MinIO binds it; try again then.
	for attempt := 1; ; attempt++ {
		minio.server, err = startMinIOServer(bin)
		if err == nil || !errors.Is(err, errPortTaken) || attempt == 3 {
			break
		}
	}
	if err != nil {
		minio.server, minio.err = nil, err
		return
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "testenv: MinIO %s ready in %s\n", minio.server.endpoint, time.Since(begin).Round(time.Millisecond))
	}
}

// minioServer is a running minio process and an admin client for it.
type minioServer struct {
	server
	endpoint             string
	accessKey, secretKey string
	client               *s3.Client
}

// startMinIOServer starts bin serving a new temp folder on a free loopback
// port with new root credentials, and waits until it is ready.
func startMinIOServer(bin string) (*minioServer, error) {
	root, err := os.MkdirTemp("", "ferry-minio-")
	if err != nil {
		return nil, fmt.Errorf("minio temp folder: %w", err)
	}
	s := &minioServer{server: server{name: "minio", root: root, log: filepath.Join(root, "minio.log")}}
	port, err := freePort()
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(root))
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.endpoint = "http://" + addr
	s.accessKey = "ferry-" + randomHex(6)
	s.secretKey = randomHex(20)

	cmd := exec.Command(bin, "server", "--quiet", "--address", addr,
		"--certs-dir", filepath.Join(root, "certs"), filepath.Join(root, "data"))
	cmd.Env = append(withoutMinIOEnv(os.Environ()),
		"MINIO_ROOT_USER="+s.accessKey,
		"MINIO_ROOT_PASSWORD="+s.secretKey,
		"MINIO_REGION="+MinIORegion,
		"MINIO_BROWSER=off", // no console, no second port
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1", // a data folder on the root disk is fine
	)
	if err := s.start(cmd); err != nil {
		return nil, errors.Join(err, os.RemoveAll(root))
	}

	s.client = s3.New(s3.Options{
		BaseEndpoint: aws.String(s.endpoint),
		Region:       MinIORegion,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.accessKey, s.secretKey, ""),
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.waitReady(ctx, s.endpoint+"/minio/health/ready"); err != nil {
		return nil, errors.Join(err, s.stop())
	}
	return s, nil
}

// removeBucket deletes every object in bucket, then the bucket.
func (s *minioServer) removeBucket(ctx context.Context, bucket string) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list objects: %w", err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]s3types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = s3types.ObjectIdentifier{Key: o.Key}
		}
		if _, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		}); err != nil {
			return fmt.Errorf("delete objects: %w", err)
		}
	}
	if _, err := s.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("delete bucket: %w", err)
	}
	return nil
}

// withoutMinIOEnv drops MINIO_* variables, so that none of the caller's
// settings changes the server the tests get.
func withoutMinIOEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "MINIO_") {
			out = append(out, kv)
		}
	}
	return out
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

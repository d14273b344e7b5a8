package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/secrets"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// sealedApp is a KubernetesApp as PipeCD's users write one with a sealed
// secret; NAMESPACE, PASSWORD and ENCODED are replaced.
const sealedApp = `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: web
  input: {namespace: NAMESPACE}
  encryption:
    encryptedSecrets:
      password: PASSWORD
      encoded: ENCODED
    decryptionTargets:
      - secret.yaml
`

const sealedSecret = `apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
data:
  encoded: "{{ .encryptedSecrets.encoded }}"
stringData:
  password: "{{ .encryptedSecrets.password }}"
`

// syncWriter is a log sink the test can read while the agent writes.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// keyFiles generates an RSA key pair and writes it as PEM files, as
// `openssl genpkey` and `openssl pkey -pubout` do.
func keyFiles(t *testing.T) (*rsa.PublicKey, config.SecretKeyPair) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kp := config.SecretKeyPair{PrivateKeyFile: filepath.Join(dir, "private-key"), PublicKeyFile: filepath.Join(dir, "public-key")}
	if err := os.WriteFile(kp.PrivateKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp.PublicKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &priv.PublicKey, kp
}

// TestASealedSecretDeploysDecryptedAndStaysSecret deploys a Secret whose
// values are PipeCD ciphertexts made in the test for a key pair the test
// generates: the cluster's Secret holds the decrypted values, and no
// stage log, agent log, live state, sync state or deployment the control
// plane holds shows them.
func TestASealedSecretDeploysDecryptedAndStaysSecret(t *testing.T) {
	kube := testenv.Kube(t)
	ctx := context.Background()
	pub, keys := keyFiles(t)
	password := "pw-" + rand.Text()
	encoded := "enc-" + rand.Text()
	sealedPassword, err := secrets.Encrypt(pub, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	// data wants base64: the value is sealed base64-encoded, as PipeCD's
	// "use base64 encoding" option does.
	sealedEncoded, err := secrets.Encrypt(pub, []byte(base64.StdEncoding.EncodeToString([]byte(encoded))))
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	commit(t, repo, "web/app.pipecd.yaml", strings.NewReplacer("NAMESPACE", kube.Namespace,
		"PASSWORD", sealedPassword, "ENCODED", sealedEncoded).Replace(sealedApp))
	commit(t, repo, "web/secret.yaml", sealedSecret)

	sm := &config.SecretManagement{Type: config.SecretManagementKeyPair, Config: keys}
	kp, err := secrets.FromConfig(sm)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncWriter{}
	cp := startSecretsAgent(t, kube, repo, sm, logs, kubernetes.WithDecrypter(kp))

	ds := waitDeployments(t, cp, 1)
	s, err := kube.Clientset.CoreV1().Secrets(kube.Namespace).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.Data["password"]); got != password {
		t.Errorf("Secret db's password = %q, want the decrypted value", got)
	}
	if got := string(s.Data["encoded"]); got != encoded {
		t.Errorf("Secret db's encoded = %q, want the decrypted value", got)
	}

	// Live state reaches the control plane once the informers saw db.
	var live *ferryv1.LiveState
	testenv.WaitFor(t, 20*time.Second, "the live state lists Secret db", func() bool {
		res, err := cp.User().GetApplicationLiveState(ctx, connect.NewRequest(&ferryv1.GetApplicationLiveStateRequest{Application: "web"}))
		if err != nil {
			return false
		}
		live = res.Msg.GetLiveState()
		return strings.Contains(protojson.Format(live), `"db"`)
	})

	// Drift: the Secret changed in the cluster makes the app OUT_OF_SYNC;
	// its diff is reported without the values.
	s.StringData = map[string]string{"password": "changed-by-hand"}
	if _, err := kube.Clientset.CoreV1().Secrets(kube.Namespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var app *ferryv1.Application
	testenv.WaitFor(t, 30*time.Second, "web is out of sync", func() bool {
		res, err := cp.User().GetApplication(ctx, connect.NewRequest(&ferryv1.GetApplicationRequest{Application: "web"}))
		if err != nil {
			t.Fatal(err)
		}
		app = res.Msg.GetApplication()
		return app.GetSyncState().GetStatus() == ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC
	})

	var reported []proto.Message
	reported = append(reported, live, app)
	for _, d := range ds {
		reported = append(reported, d)
		for _, st := range d.GetStages() {
			res, err := cp.User().GetStageLog(ctx, connect.NewRequest(&ferryv1.GetStageLogRequest{DeploymentId: d.GetId(), StageId: st.GetId(), AfterIndex: -1}))
			if err != nil {
				t.Fatal(err)
			}
			reported = append(reported, res.Msg)
		}
	}
	for _, m := range reported {
		text := protojson.Format(m)
		for _, v := range []string{password, encoded, base64.StdEncoding.EncodeToString([]byte(password))} {
			if strings.Contains(text, v) {
				t.Errorf("the control plane holds a decrypted value in a %T:\n%s", m, text)
			}
		}
	}
	if l := logs.String(); strings.Contains(l, password) || strings.Contains(l, encoded) {
		t.Errorf("the agent's log shows a decrypted value:\n%s", l)
	}
	for _, w := range app.GetConfigWarnings() {
		if w.GetField() == config.NoSecretManagementField {
			t.Errorf("an agent with secretManagement warns: %s", w.GetMessage())
		}
	}
}

// TestASealedSecretFailsOnAnAgentWithoutSecretManagement: the deployment
// fails, saying why, instead of applying the template text.
func TestASealedSecretFailsOnAnAgentWithoutSecretManagement(t *testing.T) {
	kube := testenv.Kube(t)
	pub, _ := keyFiles(t)
	sealed, err := secrets.Encrypt(pub, []byte("never-applied"))
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	commit(t, repo, "web/app.pipecd.yaml", strings.NewReplacer("NAMESPACE", kube.Namespace,
		"PASSWORD", sealed, "ENCODED", sealed).Replace(sealedApp))
	commit(t, repo, "web/secret.yaml", sealedSecret)
	cp := startSecretsAgent(t, kube, repo, nil, nil)

	var failed *ferryv1.Deployment
	testenv.WaitFor(t, 20*time.Second, "web's first deployment fails", func() bool {
		res, err := cp.User().ListDeployments(context.Background(), connect.NewRequest(&ferryv1.ListDeploymentsRequest{
			Application: "web", Statuses: []ferryv1.DeploymentStatus{ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE},
		}))
		if err != nil || len(res.Msg.Deployments) == 0 {
			return false
		}
		failed = res.Msg.Deployments[0]
		return true
	})
	if r := failed.GetStatusReason(); !strings.Contains(r, "this agent has no secretManagement; the values are not decrypted") {
		t.Errorf("status reason = %q, want it to say the agent has no secretManagement", r)
	}
	if _, err := kube.Clientset.CoreV1().Secrets(kube.Namespace).Get(context.Background(), "db", metav1.GetOptions{}); err == nil {
		t.Error("Secret db was applied with the template text")
	}
	got := appWarnings(t, cp)
	if len(got) != 1 || !strings.Contains(got[0], "spec.encryption: has no effect: this agent has no secretManagement") {
		t.Errorf("warnings = %q, want the one about secretManagement", got)
	}
}

// startSecretsAgent runs an agent with secretManagement sm (nil: none)
// and a Kubernetes provider with opts on the local cluster; its log goes
// to logs as well as the test's, when logs is not nil.
func startSecretsAgent(t *testing.T, kube *testenv.KubeEnv, repo string, sm *config.SecretManagement, logs io.Writer, opts ...kubernetes.Option) *servertest.ControlPlane {
	t.Helper()
	cp := servertest.Start(t)
	prov, err := kubernetes.NewProvider("local", &config.KubernetesProviderConfig{KubeConfigPath: kube.Kubeconfig}, kubernetes.HelmSettings{CacheDir: t.TempDir()}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prov.Close() })
	cfg := agentConfig(t, cp, repo)
	cfg.Spec.SecretManagement = sm
	w := io.Writer(testenv.LogWriter(t))
	if logs != nil {
		w = io.MultiWriter(w, logs)
	}
	startAgent(t, cfg, agent.Options{
		Providers: []platform.Provider{prov}, DriftInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	return cp
}

package localcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// serviceIP is the first address of the service range, which the API
// server's "kubernetes" Service gets; the serving certificate names it.
const (
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1"
)

// identity is a client of the API server: a user name, groups and the bearer
// token that authenticates it (the API server's --token-auth-file).
type identity struct {
	user   string
	groups []string
	token  string
}

// pki is the key material of one cluster, kept under dir/pki.
type pki struct {
	dir      string
	caPEM    []byte // the API server's self-signed serving certificate
	admin    identity
	kcm      identity
	sched    identity
	kwok     identity
	certFile string
	keyFile  string
	saKey    string // RSA private key that signs service account tokens
	saPub    string
	tokens   string // token auth file
}

// newPKI generates the serving certificate, the service account key pair and
// a token per client into dir/pki.
func newPKI(dir string) (*pki, error) {
	p := &pki{dir: filepath.Join(dir, "pki")}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki dir: %w", err)
	}
	p.certFile = filepath.Join(p.dir, "apiserver.crt")
	p.keyFile = filepath.Join(p.dir, "apiserver.key")
	p.saKey = filepath.Join(p.dir, "sa.key")
	p.saPub = filepath.Join(p.dir, "sa.pub")
	p.tokens = filepath.Join(p.dir, "tokens.csv")

	cert, key, err := selfSignedCert()
	if err != nil {
		return nil, err
	}
	p.caPEM = cert
	saKey, saPub, err := serviceAccountKeys()
	if err != nil {
		return nil, err
	}
	// system:masters bypasses authorization; the controller manager and the
	// scheduler get the roles RBAC bootstraps for their user names, as in a
	// kubeadm cluster. kwok writes node and pod status for many nodes, which
	// the Node authorizer would refuse to a single identity.
	ids := []*identity{
		{user: "ferry-admin", groups: []string{"system:masters"}},
		{user: "system:kube-controller-manager"},
		{user: "system:kube-scheduler"},
		{user: "kwok", groups: []string{"system:masters"}},
	}
	var csv strings.Builder
	for i, id := range ids {
		if id.token, err = randomToken(); err != nil {
			return nil, err
		}
		fmt.Fprintf(&csv, "%s,%s,uid-%d", id.token, id.user, i)
		if len(id.groups) > 0 {
			fmt.Fprintf(&csv, ",%q", strings.Join(id.groups, ","))
		}
		csv.WriteString("\n")
	}
	p.admin, p.kcm, p.sched, p.kwok = *ids[0], *ids[1], *ids[2], *ids[3]
	for path, data := range map[string][]byte{
		p.certFile: cert, p.keyFile: key, p.saKey: saKey, p.saPub: saPub, p.tokens: []byte(csv.String()),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", filepath.Base(path), err)
		}
	}
	return p, nil
}

// selfSignedCert returns a PEM certificate and key for the API server, valid
// for the names clients use on loopback and inside the cluster. It is its own
// CA: clients trust exactly this certificate.
func selfSignedCert() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate serving key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ferry-local-kube-apiserver"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.ParseIP(serviceIP)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal serving key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// serviceAccountKeys returns an RSA key pair, PEM encoded, for signing and
// verifying service account tokens.
func serviceAccountKeys() (privPEM, pubPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate service account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal service account key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), nil
}

// randomToken returns 32 random hex characters.
func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

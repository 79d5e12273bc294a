package caddymcp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// testCA writes a self-signed CA certificate to a PEM file and returns the
// file and the certificate.
func testCA(t *testing.T) (string, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cluster CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, cert
}

// TestClusterTrustPoolProvision: node_trust_pool loads through Caddy's CA
// pool source modules into the pool the hops check the other instances'
// certificates against, and node_server_name's placeholders resolve; a
// pool that cannot load stops the configuration with an error naming
// node_trust_pool.
func TestClusterTrustPoolProvision(t *testing.T) {
	file, ca := testCA(t)
	t.Setenv("CADDYMCP_TEST_NODE_NAME", "mcp-node.internal")
	for _, tc := range []struct {
		name, pool, serverName string
		wantName, err          string
	}{
		{name: "a file", pool: `{"provider":"file","pem_files":[` + quoteJSON(file) + `]}`, serverName: "{env.CADDYMCP_TEST_NODE_NAME}", wantName: "mcp-node.internal"},
		{name: "no pool, a server name", serverName: "mcp-node.internal", wantName: "mcp-node.internal"},
		{name: "a missing file", pool: `{"provider":"file","pem_files":["/nonexistent/cluster-ca.pem"]}`, err: "node_trust_pool"},
		{name: "the local CA without a pki app", pool: `{"provider":"pki_root","authority":["local"]}`, err: "pki_root CA pool requires that a PKI app is configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &ClusterConfig{Keys: []string{seal.NewKey()}, NodeURL: "https://10.0.0.5:8443", NodeServerName: tc.serverName}
			if tc.pool != "" {
				c.NodeTrustPool = json.RawMessage(tc.pool)
			}
			h := &Handler{Name: "trust-" + strings.ReplaceAll(tc.name, " ", "-"), Upstreams: []*UpstreamConfig{httpUp("", "http://127.0.0.1:9/mcp")}, Cluster: c}
			err := provision(t, configContext(t), h)
			if err == nil {
				defer func() { _ = h.Cleanup() }()
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := h.cluster.HopTLS
			if got.ServerName != tc.wantName {
				t.Errorf("server name %q, want %q", got.ServerName, tc.wantName)
			}
			want := x509.NewCertPool()
			want.AddCert(ca)
			if tc.pool == "" {
				want = nil
			}
			if !got.RootCAs.Equal(want) {
				t.Errorf("the hops' roots are not the pool's (%v)", got.RootCAs)
			}
		})
	}
}

func quoteJSON(s string) string { b, _ := json.Marshal(s); return string(b) }

package caddytest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// startHTTPSClusterInstance runs a Caddy of a cluster whose one site is
// https://addr with a certificate of Caddy's local CA (tls internal),
// kept in storage, which every instance shares (so they share the CA);
// its /mcp serves server-everything over stdio, with node_url https://addr
// and trust (a node_trust_pool line, or none). It returns the process and
// a client that trusts the CA.
func startHTTPSClusterInstance(t *testing.T, key, storage, addr, trust string) (*caddyProcess, *http.Transport) {
	t.Helper()
	node := node20(t)
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	globals := fmt.Sprintf("\tstorage file_system {\n\t\troot %s\n\t}\n", caddyfileQuote(storage))
	site := fmt.Sprintf(`https://%s {
	tls internal
	mcp_proxy /mcp {
		name api
		cluster {
			key {env.MCP_SESSION_KEY}
			node_url https://%s
			%s
		}
		stdio %s %s stdio
	}
}
`, addr, addr, trust, caddyfileQuote(node), caddyfileQuote(everything))
	p := runCaddyProcessAt(t, freeLoopbackAddr(t), freeLoopbackAddr(t), globals, site, "MCP_SESSION_KEY="+key)
	var tr *http.Transport
	if !poll(30*time.Second, func() bool {
		select {
		case <-p.exited:
			t.Fatalf("caddy exited before serving: %v\n%s", p.err, p.output.String())
		default:
		}
		pem, err := os.ReadFile(localCARoot(storage))
		if err != nil {
			return false
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		tr = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
		c := &http.Client{Timeout: time.Second, Transport: tr}
		resp, err := c.Get("https://" + addr + "/ready")
		if err != nil {
			tr.CloseIdleConnections()
			return false
		}
		resp.Body.Close()
		return true
	}) {
		t.Fatalf("caddy not serving https://%s:\n%s", addr, p.output.String())
	}
	t.Cleanup(tr.CloseIdleConnections)
	return p, tr
}

// localCARoot is where Caddy's local CA keeps its root in storage.
func localCARoot(storage string) string {
	return filepath.Join(storage, "pki", "authorities", "local", "root.crt")
}

// TestClusterStdioHTTPSNodes: three Caddy processes of one cluster whose
// node_urls are https, with certificates of Caddy's local CA (tls
// internal, one storage shared). A trusts the CA as node_trust_pool
// pki_root local, B as node_trust_pool file <the root from storage>, C
// not at all. A stdio session begun on A is served through B over https,
// one begun on B through A; through C the hop fails closed — 404 naming no
// address, and C's log says the owner's certificate did not verify.
// Failed before: node_trust_pool did not exist, and with the system's
// roots every hop failed as C's does.
func TestClusterStdioHTTPSNodes(t *testing.T) {
	requireIntegration(t)
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32)))
	storage := t.TempDir()
	addrA, addrB, addrC := freeLoopbackAddr(t), freeLoopbackAddr(t), freeLoopbackAddr(t)
	// A first: it makes the CA, whose root B's file pool then reads.
	_, tr := startHTTPSClusterInstance(t, key, storage, addrA, "node_trust_pool pki_root local")
	startHTTPSClusterInstance(t, key, storage, addrB, "node_trust_pool file "+caddyfileQuote(localCARoot(storage)))
	c, _ := startHTTPSClusterInstance(t, key, storage, addrC, "")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	for _, route := range []struct{ begin, serve string }{{addrA, addrB}, {addrB, addrA}} {
		httpc := &http.Client{Transport: &twoInstances{begin: route.begin, serve: route.serve, scheme: "https", base: tr}}
		client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-cluster-https", Version: "0"}, nil)
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "https://" + route.begin + "/mcp", HTTPClient: httpc}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range []string{"one", "two"} {
			if got := callText(ctx, t, cs, "echo", map[string]any{"message": msg}); got != "Echo: "+msg {
				t.Fatalf("echo begun on %s, through %s: %q", route.begin, route.serve, got)
			}
		}
		if route.begin == addrA {
			throughC(ctx, t, tr, addrC, cs.ID())
		}
		_ = cs.Close()
	}
	if out := c.output.String(); !strings.Contains(out, "its certificate did not verify") || !strings.Contains(out, "x509") {
		t.Errorf("C's log does not say that A's certificate did not verify:\n%s", out)
	}
}

// throughC sends a ping on session sid through C, which does not trust
// the owner's certificate: 404, naming no address.
func throughC(ctx context.Context, t *testing.T, tr *http.Transport, addrC, sid string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addrC+"/mcp",
		strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"ping"}`))
	for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18"} {
		req.Header.Set(k, v)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Session not found") || strings.Contains(body, "127.0.0.1") {
		t.Errorf("a session through C, which does not trust the owner: %d %s", resp.StatusCode, body)
	}
}

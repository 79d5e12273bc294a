package front

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

type connKey struct{}

// staleTLSOwner is an https owner (HTTP/1.1) that answers the first
// request of its first connection, then takes the second and closes that
// connection without an answer; it answers everything else. It records
// the bodies it read.
func staleTLSOwner(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var first net.Conn
	perConn := map[net.Conn]int{}
	var bodies []string
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		conn := r.Context().Value(connKey{}).(net.Conn)
		mu.Lock()
		bodies = append(bodies, string(b))
		if first == nil {
			first = conn
		}
		perConn[conn]++
		drop := conn == first && perConn[conn] == 2
		mu.Unlock()
		if drop {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = c.Close()
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) }
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), bodies...)
	}
}

// TestHopTLS: a hop to an https owner checks its certificate against the
// cluster's HopTLS: with the owner's CA it is served — and a request whose
// kept-alive connection the owner closed before answering is sent again on
// a new one — without it, the hop fails with the certificate's error and
// is not sent again.
func TestHopTLS(t *testing.T) {
	ts, bodies := staleTLSOwner(t)
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	target, _ := url.Parse(ts.URL + "/mcp")
	hop := func(h *Hops, trust HopTLS, body string) (*httptest.ResponseRecorder, error) {
		r := httptest.NewRequest(http.MethodPost, "http://gateway.example/mcp", strings.NewReader(body))
		w := httptest.NewRecorder()
		err := h.forward(context.Background(), w, r, hopTo{target: target, token: "t", tls: trust, replay: DefaultMaxMessageSize})
		return w, err
	}

	untrusting := NewHops()
	t.Cleanup(untrusting.CloseIdleConnections)
	_, err := hop(untrusting, HopTLS{}, "refused")
	var cert *tls.CertificateVerificationError
	if !errors.As(err, &cert) {
		t.Errorf("a hop to an owner of an unknown CA: %v, want a certificate verification error", err)
	}

	h := NewHops()
	t.Cleanup(h.CloseIdleConnections)
	trust := HopTLS{RootCAs: roots, ServerName: "example.com"} // a name httptest's certificate holds
	for _, body := range []string{"one", "two"} {
		w, err := hop(h, trust, body)
		if err != nil || w.Code != http.StatusOK || w.Body.String() != "ok" {
			t.Fatalf("hop %q: %v %d %q", body, err, w.Code, w.Body.String())
		}
	}
	if got := strings.Join(bodies(), ","); got != "one,two,two" {
		t.Errorf("the owner read %q, want one,two,two (two sent again on a new connection)", got)
	}
	if h.tlsTransport(HopTLS{RootCAs: roots.Clone(), ServerName: "example.com"}) != h.tlsTransport(trust) {
		t.Error("equal TLS settings got another transport")
	}
}

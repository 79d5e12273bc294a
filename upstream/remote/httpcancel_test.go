package remote

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestHTTPCancelAbortsThePOST: a server that keeps a cancelled request's
// stream open must not hold the session's POST slot: the client's
// notifications/cancelled reaches the server, and then the request's POST is
// aborted, so the next request gets through (MaxInFlight 1).
func TestHTTPCancelAbortsThePOST(t *testing.T) {
	hanging, aborted, testDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	cancelSeen := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		_ = json.Unmarshal(body, &m)
		switch {
		case m.Method == "initialize":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Mcp-Session-Id", "s1")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":`+string(m.ID)+`,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"t","version":"1"}}}`)
		case m.Method == "notifications/cancelled":
			cancelSeen <- struct{}{}
			w.WriteHeader(http.StatusAccepted)
		case m.ID == nil:
			w.WriteHeader(http.StatusAccepted)
		case m.Params.Name == "hang":
			// FAULT INJECTION: a stream that never ends, cancelled or not.
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			close(hanging)
			select {
			case <-r.Context().Done():
				close(aborted)
			case <-testDone: // the test failed: let the server close
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":`+string(m.ID)+`,"result":{"content":[]}}`)
		}
	}))
	defer srv.Close()
	defer close(testDone) // runs before srv.Close, which waits for handlers
	h := newTestHTTP(t, Config{URL: srv.URL, MaxInFlight: 1})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")

	send(t, c, `{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"hang"}}`)
	// The cancel must meet a POST the server is working on (one that had
	// not left yet would never be sent at all).
	select {
	case <-hanging:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the server")
	}
	send(t, c, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow"}}`)
	select {
	case <-cancelSeen:
	case <-time.After(5 * time.Second):
		t.Fatal("the cancellation never reached the server")
	}
	select {
	case <-aborted:
	case <-time.After(5 * time.Second):
		t.Fatal("the cancelled request's POST was not aborted")
	}
	// Bounded, so that a slot still held fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	next, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":"next","method":"tools/call","params":{"name":"quick"}}`))
	if err := c.Send(ctx, next); err != nil {
		t.Fatalf("the next request could not be sent (the cancelled one still holds the slot?): %v", err)
	}
	if d := rec.response(t, `"next"`); !strings.Contains(string(d.m.Raw), `"result"`) {
		t.Fatalf("the next request: %s", d.m.Raw)
	}
}

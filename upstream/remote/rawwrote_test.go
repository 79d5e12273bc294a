package remote

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestRawClientReportsWrite: roundTripWrote calls wrote once the request
// is on the wire, before the server answers, both on the raw client's own
// connection and for a request it hands to the transport (another host),
// where a ClientTrace carries it.
func TestRawClientReportsWrite(t *testing.T) {
	answer := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-answer
		_, _ = io.WriteString(w, "ok")
	})
	own := httptest.NewServer(handler)
	defer own.Close()
	other := httptest.NewServer(handler)
	defer other.Close()
	c := rawFor(t, own.URL)
	for _, target := range []string{own.URL, other.URL} {
		var wrote atomic.Int32
		written := make(chan struct{})
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, target, bytes.NewReader([]byte("{}")))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			resp, err := c.roundTripWrote(req, func() {
				if wrote.Add(1) == 1 {
					close(written)
				}
			})
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
			}
			done <- err
		}()
		<-written // before the answer, which waits for it
		answer <- struct{}{}
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if n := wrote.Load(); n != 1 {
			t.Fatalf("%s: wrote called %d times, want 1", target, n)
		}
	}
}

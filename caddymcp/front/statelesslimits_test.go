package front

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// holdingCall is a fault-injection upstream: tools/call "hold" and
// subscriptions/listen send one notification and run until the client
// leaves (or release is closed); anything else is answered at once.
func holdingCall(release <-chan struct{}) func(context.Context, *upstream.StatelessRequest, func(*pipeline.Message, int)) error {
	return func(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
		m := req.Message
		if m.Method == "subscriptions/listen" || strings.Contains(string(m.Params), `"name":"hold"`) {
			deliver(pipeline.NewNotification("notifications/subscriptions/acknowledged", nil), http.StatusOK)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-release:
			}
		}
		deliver(pipeline.NewResult(m.ID, []byte(`{"content":[]}`)), http.StatusOK)
		return nil
	}
}

// openHeld sends a request that the upstream holds open and returns once
// its first event arrived; closing the returned body ends it.
func openHeld(t *testing.T, url, client, method, body string) io.Closer {
	t.Helper()
	hdr := map[string]string{"Mcp-Method": method, "X-Test-Client": client}
	if method == "tools/call" {
		hdr["Mcp-Name"] = "hold"
	}
	resp, err := http.DefaultClient.Do(statelessRequest(t, url, body, hdr))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("held %s for %s: %d %s", method, client, resp.StatusCode, b)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !(strings.HasPrefix(line, "data:") || strings.HasPrefix(line, "event:")) {
		resp.Body.Close()
		t.Fatalf("held %s for %s: first line %q, %v", method, client, line, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp.Body
}

// post sends one 2026-07-28 request and returns its status, Retry-After and body.
func post(t *testing.T, url, client, method, body string) (int, string, string) {
	t.Helper()
	hdr := map[string]string{"Mcp-Method": method, "X-Test-Client": client}
	if method == "tools/call" {
		hdr["Mcp-Name"] = "echo"
	}
	// Bounded: a request admitted by mistake may be held open.
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Do(statelessRequest(t, url, body, hdr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %d, reading the answer: %v (held open?)", method, resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

func statelessBody(id int, method, params string) string {
	if params != "" {
		params += ","
	}
	return `{"jsonrpc":"2.0","id":` + strconv.Itoa(id) + `,"method":"` + method + `","params":{` + params + statelessMeta + `}}`
}

// TestStatelessBounds: 2026-07-28 requests are bounded in all as well as per
// client, and subscriptions/listen streams have bounds of their own, so
// open listens never starve a client's calls.
func TestStatelessBounds(t *testing.T) {
	byHeader := testClients{key: func(r *http.Request) string { return r.Header.Get("X-Test-Client") }}
	hold := statelessBody(1, "tools/call", `"name":"hold"`)
	echo := statelessBody(2, "tools/call", `"name":"echo"`)
	listen := statelessBody(3, "subscriptions/listen", `"notifications":{"toolsListChanged":true}`)

	t.Run("all clients together", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		ts, _ := newStatelessServerWith(t, Config{Clients: byHeader, MaxStatelessInFlight: 2}, holdingCall(release))
		openHeld(t, ts.URL, "a", "tools/call", hold)
		openHeld(t, ts.URL, "b", "tools/call", hold)
		status, retry, body := post(t, ts.URL, "c", "tools/call", echo)
		if status != http.StatusServiceUnavailable || retry == "" || !strings.Contains(body, `"id":2`) || !strings.Contains(body, "retry later") {
			t.Fatalf("a third client over the total bound: %d Retry-After %q %s; want 503 with Retry-After and the request's id", status, retry, body)
		}
	})
	t.Run("listens beside calls", func(t *testing.T) {
		ts, _ := newStatelessServerWith(t, Config{Clients: byHeader, MaxInFlight: 2}, holdingCall(nil))
		for range 3 {
			openHeld(t, ts.URL, "a", "subscriptions/listen", listen)
		}
		for i := range 2 {
			if status, _, body := post(t, ts.URL, "a", "tools/call", echo); status != http.StatusOK {
				t.Fatalf("call %d beside 3 listens of the same client: %d %s", i, status, body)
			}
		}
	})
	t.Run("listens per client", func(t *testing.T) {
		ts, _ := newStatelessServerWith(t, Config{Clients: byHeader}, holdingCall(nil))
		var held []io.Closer
		for range DefaultMaxListensPerClient {
			held = append(held, openHeld(t, ts.URL, "a", "subscriptions/listen", listen))
		}
		status, retry, body := post(t, ts.URL, "a", "subscriptions/listen", listen)
		if status != http.StatusTooManyRequests || retry == "" || !strings.Contains(body, "subscriptions/listen streams open") {
			t.Fatalf("one listen too many: %d Retry-After %q %s; want 429", status, retry, body)
		}
		openHeld(t, ts.URL, "b", "subscriptions/listen", listen) // another client is not affected
		held[0].Close()
		waitFor(t, func() bool {
			// Headers only: an admitted listen streams until closed.
			resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL, listen, map[string]string{"Mcp-Method": "subscriptions/listen", "X-Test-Client": "a"}))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	})
	t.Run("listens in all", func(t *testing.T) {
		ts, _ := newStatelessServerWith(t, Config{Clients: byHeader, MaxListens: 2}, holdingCall(nil))
		openHeld(t, ts.URL, "a", "subscriptions/listen", listen)
		openHeld(t, ts.URL, "b", "subscriptions/listen", listen)
		status, retry, _ := post(t, ts.URL, "c", "subscriptions/listen", listen)
		if status != http.StatusServiceUnavailable || retry == "" {
			t.Fatalf("a listen over the total bound: %d Retry-After %q; want 503 with Retry-After", status, retry)
		}
		if status, _, body := post(t, ts.URL, "c", "tools/call", echo); status != http.StatusOK {
			t.Fatalf("a call while listens are at their bound: %d %s", status, body)
		}
	})
}

// waitFor polls cond until it holds, for at most five seconds: a closed
// stream frees its slot once its handler saw the client leave.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

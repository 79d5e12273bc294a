package balance

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
)

// methodLog is an http.Handler in front of a server that notes the JSON-RPC
// method of every POST it forwards.
type methodLog struct {
	next http.Handler
	mu   sync.Mutex
	seen []string
}

func (l *methodLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(r.Body)
		method := "?"
		if _, rest, ok := strings.Cut(string(body), `"method":"`); ok {
			method, _, _ = strings.Cut(rest, `"`)
		}
		l.mu.Lock()
		l.seen = append(l.seen, method)
		l.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	l.next.ServeHTTP(w, r)
}

func (l *methodLog) methods() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.seen, " ")
}

// TestMCPCheck runs the MCP active check against real go-sdk servers of
// both eras, through the real HTTP upstream, and against servers that
// fail it: a 2026 server is checked with server/discover alone; a 2025 one
// gets initialize and ping on a session of the check's own (remembered, so
// the second check goes straight there); a failure names the step.
func TestMCPCheck(t *testing.T) {
	sdkServer := func() *mcp.Server {
		return mcp.NewServer(&mcp.Implementation{Name: "checked", Version: "1"}, nil)
	}
	for _, tt := range []struct {
		name    string
		handler http.Handler
		want    []string // the methods each of two checks sends, in order
		wantErr string
	}{
		{
			name: "2026 stateless server",
			handler: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return sdkServer() },
				&mcp.StreamableHTTPOptions{Stateless: true}),
			want: []string{"server/discover", "server/discover"},
		},
		{
			name:    "2025 server that refuses the probe",
			handler: refuseDiscover(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return sdkServer() }, nil)),
			want: []string{"server/discover initialize notifications/initialized ping",
				"initialize notifications/initialized ping"},
		},
		{
			name: "initialize refused",
			handler: refuseDiscover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"not today"}}`)
			})),
			wantErr: "initialize: not today",
		},
		{
			name: "server failing",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			}),
			wantErr: "server/discover",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log := &methodLog{next: tt.handler}
			srv := httptest.NewServer(log)
			defer srv.Close()
			up, err := remote.NewHTTP(remote.Config{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			defer up.Wait()
			defer up.CloseIdleConnections()
			check := MCPCheck()
			for i := range 2 {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				before := len(strings.Fields(log.methods()))
				err := check(ctx, up)
				cancel()
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("check %d: %v, want an error with %q", i+1, err, tt.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("check %d: %v", i+1, err)
				}
				if got := strings.Join(strings.Fields(log.methods())[before:], " "); got != tt.want[i] {
					t.Errorf("check %d sent %q, want %q", i+1, got, tt.want[i])
				}
			}
		})
	}
}

// refuseDiscover answers a 2026-07-28 server/discover as a server of the
// 2025 revisions alone does (400, method not found) and passes the rest.
func refuseDiscover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Method") == "server/discover" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":"health","error":{"code":-32601,"message":"method not found"}}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

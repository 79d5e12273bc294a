package remote

import (
	"net"
	"strings"
	"testing"
)

// TestHTTPErrorsHideTheQuery: some hosted MCP servers take an API key in the
// URL's query; the errors the client gets name the upstream without it.
func TestHTTPErrorsHideTheQuery(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/mcp"
	l.Close()
	// Even verbose errors (development) keep the query's credential out.
	h := newTestHTTP(t, Config{URL: dead + "?api_key=s3cret-token", VerboseErrors: true})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	send(t, c, initializeMsg(`"init-1"`, "2025-11-25"))
	d := rec.response(t, `"init-1"`)
	if strings.Contains(string(d.m.Raw), "s3cret") {
		t.Fatalf("the error shows the query's credential: %s", d.m.Raw)
	}
	if !strings.Contains(string(d.m.Raw), dead) || !strings.Contains(string(d.m.Raw), "connection refused") {
		t.Fatalf("the error should name the upstream and the cause: %s", d.m.Raw)
	}
}

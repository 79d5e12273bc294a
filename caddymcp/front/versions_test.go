package front

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A request naming a revision the endpoint does not serve, older or newer,
// in its header or (without one) in its `_meta`, is answered 400 with
// -32022 and the revisions served, on every path that reads a revision.
func TestUnservedVersionsGet32022(t *testing.T) {
	ts, fake := newStatelessServer(t, echoCall)
	const list = `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}`
	metaList := func(v string) string {
		return `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"` + v + `","io.modelcontextprotocol/clientCapabilities":{}}}}`
	}
	tests := []struct {
		name, method, version, body, query string
		requested                          string
		id                                 string
	}{
		{name: "older unknown header on a session POST", method: http.MethodPost, version: "2024-01-01", body: list, requested: "2024-01-01", id: "7"},
		{name: "ancient header on a session POST", method: http.MethodPost, version: "1999-01-01", body: list, requested: "1999-01-01", id: "7"},
		{name: "between served revisions", method: http.MethodPost, version: "2025-05-01", body: list, requested: "2025-05-01", id: "7"},
		{name: "newer header on a stateless POST", method: http.MethodPost, version: "2099-01-01", body: metaList("2099-01-01"), requested: "2099-01-01", id: "7"},
		{name: "older unknown _meta without header", method: http.MethodPost, body: metaList("2024-01-01"), requested: "2024-01-01", id: "7"},
		{name: "older unknown header on initialize", method: http.MethodPost, version: "2024-01-01",
			body:      `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
			requested: "2024-01-01", id: "1"},
		{name: "older unknown header on a 2024-11-05 POST", method: http.MethodPost, version: "2024-01-01", body: list, query: "?sessionId=abc", requested: "2024-01-01", id: "7"},
		{name: "older unknown header on GET", method: http.MethodGet, version: "2024-01-01", requested: "2024-01-01", id: "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(tt.method, ts.URL+tt.query, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Accept", "application/json, text/event-stream")
			if tt.method == http.MethodGet {
				r.Header.Set("Accept", "text/event-stream")
			}
			r.Header.Set("Content-Type", "application/json")
			if tt.version != "" {
				r.Header.Set("Mcp-Protocol-Version", tt.version)
			}
			r.Header.Set("Mcp-Method", "tools/list")
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var got struct {
				ID    json.RawMessage `json:"id"`
				Error struct {
					Code int `json:"code"`
					Data struct {
						Supported []string `json:"supported"`
						Requested string   `json:"requested"`
					} `json:"data"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%d %s: %v", resp.StatusCode, body, err)
			}
			if resp.StatusCode != http.StatusBadRequest || got.Error.Code != codeUnsupportedProtocolVersion {
				t.Fatalf("got %d %s, want 400 with -32022", resp.StatusCode, body)
			}
			if strings.Join(got.Error.Data.Supported, ",") != strings.Join(allVersions, ",") || got.Error.Data.Requested != tt.requested {
				t.Errorf("data %+v, want supported %v and requested %q", got.Error.Data, allVersions, tt.requested)
			}
			if string(got.ID) != tt.id {
				t.Errorf("id %s, want %s", got.ID, tt.id)
			}
		})
	}
	select {
	case req := <-fake.seen:
		t.Errorf("the upstream got %s", req.Message.Raw)
	default:
	}
}

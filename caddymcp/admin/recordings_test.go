package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/tape"
	"github.com/caddy-mcp/caddy-mcp/tape/record"
)

// TestAdminRecordings: GET /mcp_proxy/recordings lists a recording
// endpoint's tapes by file name, a rotated tape once with all its parts.
func TestAdminRecordings(t *testing.T) {
	dir, name, _ := recordingsFixture(t)
	rw := httptest.NewRecorder()
	if err := handleRecordings(rw, httptest.NewRequest(http.MethodGet, adminRecordingsPath, nil)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Recordings []adminRecording `json:"recordings"`
	}
	if err := json.Unmarshal(rw.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Recordings) != 1 {
		t.Fatalf("want the one tape of endpoint rec-one, got %s", rw.Body.Bytes())
	}
	r := got.Recordings[0]
	if r.File != name || r.Session != record.SessionHash("s1") || r.Parts < 2 || r.Size < 1000 ||
		!r.Start.Equal(time.Unix(1800000000, 0)) || strings.Contains(rw.Body.String(), dir) {
		t.Fatalf("recording %+v (body %s)", r, rw.Body.Bytes())
	}
	rw = httptest.NewRecorder()
	if err := handleRecordings(rw, httptest.NewRequest(http.MethodPost, adminRecordingsPath, nil)); err == nil {
		t.Fatal("POST /mcp_proxy/recordings must be refused")
	}
}

// recordingsFixture writes, into a record directory of endpoint rec-one,
// a tape rotated over several parts and a tape of another endpoint, and
// registers the directory as that endpoint's. It returns the directory
// and the two tapes' names.
func recordingsFixture(t *testing.T) (dir, rotated, foreign string) {
	t.Helper()
	dir = t.TempDir()
	w := tape.NewWriter(tape.WriterOptions{Dir: dir, MaxSize: 600})
	tp := tape.NewTape(tape.Header{Endpoint: "rec-one", Session: record.SessionHash("s1"), Start: time.Unix(1800000000, 0).UTC()})
	for i := range 10 {
		w.Write(tp, tape.Record{Dir: tape.ClientToServer, OffsetMicros: int64(i) * 1000,
			Msg: json.RawMessage(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"pad":"%s"}}}`, i, strings.Repeat("x", 100)))})
	}
	other := tape.NewTape(tape.Header{Endpoint: "another-endpoint", Session: "ffff", Start: time.Unix(1800000001, 0).UTC()})
	w.Write(other, tape.Record{Dir: tape.ClientToServer, Msg: json.RawMessage(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)})
	w.Close()

	key := "test|adminrecording|" + t.Name()
	_, _, err := mcpstate.Recorders.LoadOrNew(key, func() (caddy.Destructor, error) {
		wr := tape.NewWriter(tape.WriterOptions{Dir: dir})
		return &mcpstate.RecorderEntry{Dir: dir, Endpoint: "rec-one", Writer: wr, Recorder: record.New(record.Config{Writer: wr})}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = mcpstate.Recorders.Delete(key) })
	return dir, tape.FileName(tp.Base, 0), tape.FileName(other.Base, 0)
}

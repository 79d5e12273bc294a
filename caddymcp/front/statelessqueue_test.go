package front

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestDeliveryQueueKeepsFinal: a call's final message gets through a queue
// that its notifications filled, whether it is the server's response or the
// gateway's error; the notifications that fit come first, in order.
func TestDeliveryQueueKeepsFinal(t *testing.T) {
	const capacity = 4
	progress := func(i int) *pipeline.Message {
		return pipeline.NewNotification("notifications/progress", json.RawMessage(`{"progressToken":"t","progress":`+string(rune('0'+i))+`}`))
	}
	for _, tc := range []struct {
		name      string
		notes     int       // notifications pushed
		response  bool      // the server's response follows them
		last      *delivery // what the call's end adds
		want      string    // in the final message
		wantCode  int       // of the final error, 0 for a result
		overflows bool
	}{
		{name: "response after a full queue", notes: capacity + 3, response: true, want: `"ok":true`, overflows: true},
		{name: "overflow, then the call ends cancelled", notes: capacity + 3, want: "fell more than 4 messages behind", wantCode: pipeline.CodeInternalError, overflows: true},
		{name: "gateway error on a full queue", notes: capacity,
			last: &delivery{status: http.StatusBadGateway, m: pipeline.NewError(json.RawMessage(`7`), pipeline.CodeInternalError, "the MCP server process ended")},
			want: "process ended", wantCode: pipeline.CodeInternalError},
		{name: "response on a full queue", notes: capacity, response: true, want: `"ok":true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			overflows := 0
			q := newDeliveryQueue(capacity, json.RawMessage(`7`), func() { overflows++ })
			for i := range tc.notes {
				q.push(progress(i), http.StatusOK)
			}
			if tc.response {
				q.push(pipeline.NewResult(json.RawMessage(`7`), json.RawMessage(`{"ok":true}`)), http.StatusOK)
			}
			q.finish(tc.last)
			if (overflows == 1) != tc.overflows || overflows > 1 {
				t.Fatalf("onOverflow ran %d times", overflows)
			}
			var got []*delivery
			for d := q.await(context.Background()); d != nil; d = q.await(context.Background()) {
				got = append(got, d)
			}
			if len(got) != min(tc.notes, capacity)+1 {
				t.Fatalf("got %d deliveries, want the %d queued notifications and the final message", len(got), min(tc.notes, capacity))
			}
			for i, d := range got[:len(got)-1] {
				if string(d.m.Raw) != string(progress(i).Raw) {
					t.Fatalf("delivery %d: %s, want %s", i, d.m.Raw, progress(i).Raw)
				}
			}
			final := got[len(got)-1].m
			if !final.IsResponse() || string(final.ID) != "7" || !strings.Contains(string(final.Raw), tc.want) {
				t.Fatalf("final message %s, want a response with id 7 containing %q", final.Raw, tc.want)
			}
			var e struct {
				Code int `json:"code"`
			}
			_ = json.Unmarshal(final.Error, &e)
			if e.Code != tc.wantCode {
				t.Fatalf("final error code %d, want %d: %s", e.Code, tc.wantCode, final.Raw)
			}
		})
	}
}

package front

import (
	"encoding/json"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestProgressShift: after the gateway sent n progress values for a token,
// the server's own progress and total are shifted by n — one fixed offset,
// so that the server's values keep their distances — and a value that
// would not increase what the client saw is dropped.
func TestProgressShift(t *testing.T) {
	type seen struct {
		progress, total float64
		dropped         bool
	}
	for _, tc := range []struct {
		name   string
		held   int // the gateway's progress while held
		server [][2]float64
		want   []seen
	}{
		{"two of two after two held", 2, [][2]float64{{1, 2}, {2, 2}}, []seen{{3, 4, false}, {4, 4, false}}},
		{"steps of ten", 1, [][2]float64{{10, 30}, {20, 30}, {30, 30}}, []seen{{11, 31, false}, {21, 31, false}, {31, 31, false}}},
		{"a value that goes back is dropped", 3, [][2]float64{{2, 0}, {1, 0}, {3, 0}}, []seen{{5, 0, false}, {0, 0, true}, {6, 0, false}}},
		{"zero is no progress", 1, [][2]float64{{0, 0}}, []seen{{0, 0, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &progressShift{token: json.RawMessage(`"tok"`)}
			for i := 1; i <= tc.held; i++ {
				var n struct{ Progress float64 }
				if err := json.Unmarshal(p.next().Params, &n); err != nil || n.Progress != float64(i) {
					t.Fatalf("held progress #%d: %v %v", i, n.Progress, err)
				}
			}
			for i, sv := range tc.server {
				params := map[string]any{"progressToken": "tok", "progress": sv[0]}
				if sv[1] != 0 {
					params["total"] = sv[1]
				}
				m, ok := p.rewrite(pipeline.NewNotification("notifications/progress", mustJSON(params)))
				if !ok != tc.want[i].dropped {
					t.Fatalf("server progress %v: dropped %v, want %v", sv, !ok, tc.want[i].dropped)
				}
				if !ok {
					continue
				}
				var got struct{ Progress, Total float64 }
				if err := json.Unmarshal(m.Params, &got); err != nil || got.Progress != tc.want[i].progress || got.Total != tc.want[i].total {
					t.Errorf("server progress %v became %s, want %v/%v", sv, m.Params, tc.want[i].progress, tc.want[i].total)
				}
			}
		})
	}
}

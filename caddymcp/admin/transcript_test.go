package admin

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// TestRecordingTranscriptAndDownload: a listed tape is shown as the
// `caddy mcp-tape show` transcript, and downloaded as one JSONL file that
// reads as the whole tape, its parts joined.
func TestRecordingTranscriptAndDownload(t *testing.T) {
	dir, name, _ := recordingsFixture(t)
	whole, err := tape.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if whole.Parts < 3 {
		t.Fatalf("the fixture's tape has %d parts, want a rotated one", whole.Parts)
	}
	var want bytes.Buffer
	if err := tape.Show(&want, whole); err != nil {
		t.Fatal(err)
	}

	w, err := serveAdmin(t, adminRecordingsPath+"/", http.MethodGet, adminRecordingsPath+"/"+name)
	if err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" || w.Body.String() != want.String() {
		t.Fatalf("transcript: %d %q\n%s\nwant\n%s", w.Code, w.Header().Get("Content-Type"), w.Body, want.String())
	}

	w, err = serveAdmin(t, adminRecordingsPath+"/", http.MethodGet, adminRecordingsPath+"/"+name+"/download")
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Header().Get("Content-Disposition"); got != `attachment; filename=`+name {
		t.Errorf("Content-Disposition %q", got)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/jsonl" {
		t.Errorf("Content-Type %q", ct)
	}
	h, recs, truncated, err := tape.Read(bytes.NewReader(w.Body.Bytes()))
	if err != nil || truncated {
		t.Fatalf("the download does not read as one tape: %v (truncated %v)\n%s", err, truncated, w.Body)
	}
	if h.Endpoint != "rec-one" || h.Part != 0 || len(recs) != len(whole.Records) {
		t.Fatalf("the download: header %+v, %d records, want %d", h, len(recs), len(whole.Records))
	}
	for i := range recs {
		if !bytes.Equal(recs[i].Msg, whole.Records[i].Msg) {
			t.Fatalf("record %d: %s, want %s", i, recs[i].Msg, whole.Records[i].Msg)
		}
	}
}

// TestRecordingNames: a recording is asked for by its listed name only;
// a path, a dot segment, a continuation part or a name not listed is a
// clear error that names no directory.
func TestRecordingNames(t *testing.T) {
	dir, name, foreign := recordingsFixture(t)
	base, _, _ := tape.SplitName(name)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		status     int
		says       string
	}{
		{"no name", "", http.StatusBadRequest, "no recording named"},
		{"dot dot", "..", http.StatusBadRequest, `".." is not a recording name`},
		{"dot", ".", http.StatusBadRequest, "not a recording name"},
		{"backslash", `..\` + name, http.StatusBadRequest, "never a path"},
		{"not a tape", "notes.txt", http.StatusBadRequest, "tapes end in .jsonl"},
		{"a continuation part", tape.FileName(base, 1), http.StatusBadRequest, "is part 1 of recording " + fmt.Sprintf("%q", name)},
		{"not listed", "20990101T000000Z-000000000000.jsonl", http.StatusNotFound, "GET /mcp_proxy/recordings lists them"},
		{"another endpoint's tape", foreign, http.StatusNotFound, "no recording"},
		{"a path below", "../" + name, http.StatusNotFound, "no such route"},
		{"an unknown sub-route", name + "/raw", http.StatusNotFound, "no such route"},
		{"too deep", name + "/download/x", http.StatusNotFound, "no such route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := serveAdmin(t, adminRecordingsPath+"/", http.MethodGet, adminRecordingsPath+"/"+tc.path)
			wantAPIError(t, err, tc.status, tc.says)
			if err != nil && strings.Contains(err.Error(), dir) {
				t.Errorf("the error names the directory: %v", err)
			}
		})
	}
	_, err := serveAdmin(t, adminRecordingsPath+"/", http.MethodPost, adminRecordingsPath+"/"+name)
	wantAPIError(t, err, http.StatusMethodNotAllowed, "use GET")
}

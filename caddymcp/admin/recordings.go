package admin

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// adminRecordingsPath lists the tapes of every endpoint that records.
const adminRecordingsPath = "/mcp_proxy/recordings"

// adminRecording is one tape in GET /mcp_proxy/recordings.
type adminRecording struct {
	// File is the tape's file name (its first part); never a path.
	File string `json:"file"`
	// Endpoint is the endpoint that recorded it.
	Endpoint string `json:"endpoint"`
	// Session is the hash of the session id the tape header carries.
	Session string `json:"session,omitempty"`
	// Start is when the tape began, RFC 3339.
	Start time.Time `json:"start"`
	// Size is the bytes of all its parts.
	Size int64 `json:"size"`
	// Parts is the number of files it spans.
	Parts int `json:"parts"`
	// ModTime is when it was last written, RFC 3339.
	ModTime time.Time `json:"mod_time"`
}

// recorderEntries returns the live recorders.
func recorderEntries() []*mcpstate.RecorderEntry {
	var out []*mcpstate.RecorderEntry
	mcpstate.Recorders.Range(func(_, v any) bool {
		out = append(out, v.(*mcpstate.RecorderEntry))
		return true
	})
	return out
}

// recordDirs returns the live recorders, one per record directory and
// endpoint (a reload overlaps two entries of the same).
func recordDirs() []*mcpstate.RecorderEntry {
	var out []*mcpstate.RecorderEntry
	seen := map[string]bool{}
	for _, e := range recorderEntries() {
		if !seen[e.Dir+"|"+e.Endpoint] {
			seen[e.Dir+"|"+e.Endpoint] = true
			out = append(out, e)
		}
	}
	return out
}

// handleRecordings serves GET /mcp_proxy/recordings.
func handleRecordings(w http.ResponseWriter, r *http.Request) error {
	if err := mcphttp.AllowMethods(w, r, http.MethodGet); err != nil {
		return err
	}
	list := []adminRecording{}
	for _, e := range recordDirs() {
		recs, err := listRecordings(e.Dir, e.Endpoint)
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("listing the tapes of endpoint %q: %v", e.Endpoint, err)}
		}
		list = append(list, recs...)
	}
	slices.SortFunc(list, func(a, b adminRecording) int { return strings.Compare(a.File, b.File) })
	return writeJSON(w, http.StatusOK, map[string]any{"recordings": list})
}

// listRecordings describes the tapes in dir that endpoint recorded.
func listRecordings(dir, endpoint string) ([]adminRecording, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	byBase := map[string]*adminRecording{}
	var order []string
	for _, de := range entries {
		base, part, ok := tape.SplitName(de.Name())
		if !ok || de.IsDir() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		rec := byBase[base]
		if rec == nil {
			rec = &adminRecording{File: tape.FileName(base, 0)}
			byBase[base] = rec
			order = append(order, base)
		}
		rec.Size += fi.Size()
		rec.Parts++
		if fi.ModTime().After(rec.ModTime) {
			rec.ModTime = fi.ModTime()
		}
		if part == 0 {
			h, err := readHeader(filepath.Join(dir, de.Name()))
			if err != nil {
				continue
			}
			rec.Endpoint, rec.Session, rec.Start = h.Endpoint, h.Session, h.Start
		}
	}
	var out []adminRecording
	for _, base := range order {
		if rec := byBase[base]; rec.Endpoint == endpoint {
			out = append(out, *rec)
		}
	}
	return out, nil
}

// readHeader reads a tape's first line only.
func readHeader(path string) (*tape.Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 4096).ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var h tape.Header
	if err := json.Unmarshal(line, &h); err != nil || h.Tape == 0 {
		return nil, errors.New("not a tape")
	}
	return &h, nil
}

// handleSessionRecord serves POST (start) and DELETE (stop)
// /mcp_proxy/sessions/<id>/record: the recording of one live session, into
// its endpoint's record directory only (the admin API never takes a path).
func handleSessionRecord(w http.ResponseWriter, r *http.Request, id string) error {
	if err := mcphttp.AllowMethods(w, r, http.MethodPost, http.MethodDelete); err != nil {
		return err
	}
	_, endpoint, store := findSession(id)
	if store == nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no live session %q", id)}
	}
	var found bool
	for _, e := range recorderEntries() {
		if e.Endpoint == endpoint {
			e.Recorder.SetRecording(id, r.Method == http.MethodPost)
			found = true
		}
	}
	if !found {
		return caddy.APIError{HTTPStatus: http.StatusConflict,
			Err: fmt.Errorf("endpoint %q has no record directory: add a record <dir> line to its mcp_proxy block", endpoint)}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

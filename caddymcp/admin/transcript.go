package admin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// maxTranscriptBytes bounds the tape a transcript is made of (it is read
// whole into memory); a larger one can still be downloaded and shown with
// caddy mcp-tape show.
const maxTranscriptBytes = 64 << 20

// errNoRecordingRoute is the answer to a path below /mcp_proxy/recordings/
// that names no route.
var errNoRecordingRoute = errors.New("no such route; use /mcp_proxy/recordings/<file> (the transcript) or /mcp_proxy/recordings/<file>/download (the JSONL)")

// handleRecording serves GET /mcp_proxy/recordings/<file> (the tape as the
// `caddy mcp-tape show` transcript, text/plain) and GET
// /mcp_proxy/recordings/<file>/download (the tape as one JSONL file, its
// parts joined). <file> is a file field of GET /mcp_proxy/recordings: a
// name, never a path, looked up in the record directories only.
func handleRecording(w http.ResponseWriter, r *http.Request) error {
	if err := mcphttp.AllowMethods(w, r, http.MethodGet); err != nil {
		return err
	}
	name, sub, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, adminRecordingsPath+"/"), "/")
	if sub != "" && sub != "download" {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errNoRecordingRoute}
	}
	if err := checkRecordingName(name); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
	}
	dir, rec, err := findRecording(name)
	if err != nil {
		return err
	}
	if sub == "download" {
		return downloadRecording(w, dir, rec)
	}
	return showRecording(w, dir, rec)
}

// checkRecordingName accepts the name of a tape's first file only: no
// directory, no dot segment, no continuation part (a rotated tape is one
// recording, named by its first file).
func checkRecordingName(name string) error {
	const hint = "; a recording is named by the file field of GET /mcp_proxy/recordings, never a path"
	if name == "" {
		return errors.New("no recording named" + hint)
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." || strings.ContainsRune(name, 0) {
		return fmt.Errorf("%q is not a recording name%s", name, hint)
	}
	base, part, ok := tape.SplitName(name)
	if !ok {
		return fmt.Errorf("%q is not a recording name (tapes end in .jsonl)%s", name, hint)
	}
	if part != 0 {
		return fmt.Errorf("%q is part %d of recording %q: ask for that one", name, part, tape.FileName(base, 0))
	}
	return nil
}

// findRecording finds the recording named name among the tapes of the
// endpoints that record, and its record directory.
func findRecording(name string) (string, adminRecording, error) {
	for _, e := range recordDirs() {
		recs, err := listRecordings(e.Dir, e.Endpoint)
		if err != nil {
			continue // the listing reports it
		}
		for _, rec := range recs {
			if rec.File == name {
				return e.Dir, rec, nil
			}
		}
	}
	return "", adminRecording{}, caddy.APIError{HTTPStatus: http.StatusNotFound,
		Err: fmt.Errorf("no recording %q; GET /mcp_proxy/recordings lists them", name)}
}

// showRecording writes the transcript of the tape.
func showRecording(w http.ResponseWriter, dir string, rec adminRecording) error {
	if rec.Size > maxTranscriptBytes {
		return caddy.APIError{HTTPStatus: http.StatusRequestEntityTooLarge,
			Err: fmt.Errorf("recording %q has %d bytes, more than the %d a transcript is made of here: download it and run caddy mcp-tape show on it",
				rec.File, rec.Size, maxTranscriptBytes)}
	}
	f, err := tape.ReadFile(filepath.Join(dir, rec.File))
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("reading recording %q: %v", rec.File, baseError(err))}
	}
	var buf bytes.Buffer
	if err := tape.Show(&buf, f); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}

// downloadRecording writes the tape's parts as one JSONL file: the first
// part whole, the continuations without their header lines, so that what
// is downloaded reads as one tape (caddy mcp-tape show, replay).
func downloadRecording(w http.ResponseWriter, dir string, rec adminRecording) error {
	var parts []*os.File
	defer func() {
		for _, f := range parts {
			f.Close()
		}
	}()
	base, _, _ := tape.SplitName(rec.File)
	for part := 0; ; part++ {
		f, err := os.Open(filepath.Join(dir, tape.FileName(base, part)))
		if errors.Is(err, os.ErrNotExist) && part > 0 {
			break
		}
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("reading recording %q: %v", rec.File, baseError(err))}
		}
		parts = append(parts, f)
	}
	h := w.Header()
	h.Set("Content-Type", "application/jsonl")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": rec.File}))
	w.WriteHeader(http.StatusOK)
	for i, f := range parts {
		var r io.Reader = f
		if i > 0 {
			br := bufio.NewReader(f)
			if _, err := br.ReadBytes('\n'); err != nil {
				return nil // a part without a whole header line yet: it holds nothing more
			}
			r = br
		}
		if _, err := io.Copy(w, r); err != nil {
			return nil // the client went away; the status is sent
		}
	}
	return nil
}

// baseError is err without the directory of a path it names: the admin
// API shows names, never where the record directory is.
func baseError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %v", pe.Op, filepath.Base(pe.Path), pe.Err)
	}
	return err
}

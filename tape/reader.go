package tape

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// File is a whole tape as read: the header of its first file and the
// records of all its parts, in order.
type File struct {
	// Name is the file name of the tape's first part (no directory).
	Name string
	// Header is the first part's header.
	Header Header
	// Records are the message lines of every part, in order.
	Records []Record
	// Parts is the number of files the tape spans.
	Parts int
	// Truncated reports that a part ended in an unterminated line (a crash
	// while writing), which was ignored.
	Truncated bool
}

// SplitName parses a tape file name into the tape's base and the part
// number: base.jsonl is part 0, base.N.jsonl part N. ok is false for a
// name that is not a tape file.
func SplitName(name string) (base string, part int, ok bool) {
	stem, found := strings.CutSuffix(name, ".jsonl")
	if !found || stem == "" {
		return "", 0, false
	}
	if i := strings.LastIndexByte(stem, '.'); i > 0 {
		if n, err := strconv.Atoi(stem[i+1:]); err == nil && n > 0 && stem[i+1] != '0' {
			return stem[:i], n, true
		}
	}
	return stem, 0, true
}

// List returns the paths of the tapes in dir (the first part of each), in
// name order.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if _, part, ok := SplitName(e.Name()); ok && part == 0 {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(paths)
	return paths, nil
}

// ReadFile reads the tape whose first part is at path (a continuation
// part's path reads the whole tape too), with all its numbered parts.
func ReadFile(path string) (*File, error) {
	dir, name := filepath.Split(path)
	base, _, ok := SplitName(name)
	if !ok {
		return nil, fmt.Errorf("%s: not a tape file (tapes are named <name>.jsonl)", name)
	}
	f := &File{Name: FileName(base, 0)}
	for part := 0; ; part++ {
		r, err := os.Open(filepath.Join(dir, FileName(base, part)))
		if err != nil {
			if part > 0 && errors.Is(err, os.ErrNotExist) {
				return f, nil
			}
			return nil, err
		}
		h, recs, truncated, err := Read(r)
		_ = r.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", FileName(base, part), err)
		}
		if part == 0 {
			f.Header = *h
		}
		f.Records = append(f.Records, recs...)
		f.Truncated = f.Truncated || truncated
		f.Parts++
	}
}

// Read reads one tape file: its header and its records. An unterminated
// last line (a crash while writing) is ignored and reported as truncated;
// any other line that is not a record is an error naming its line number.
func Read(r io.Reader) (h *Header, recs []Record, truncated bool, err error) {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, rerr := br.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, nil, false, rerr
		}
		if rerr == io.EOF {
			if len(bytes.TrimSpace(line)) > 0 {
				truncated = true
			}
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if h == nil {
			h, err = parseHeader(line)
			if err != nil {
				return nil, nil, false, fmt.Errorf("line %d: %w", n, err)
			}
			continue
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, nil, false, fmt.Errorf("line %d: not a tape record: %v", n, err)
		}
		if rec.Dir != ClientToServer && rec.Dir != ServerToClient {
			return nil, nil, false, fmt.Errorf("line %d: \"dir\" must be %q or %q, got %q", n, ClientToServer, ServerToClient, rec.Dir)
		}
		if len(rec.Msg) == 0 {
			return nil, nil, false, fmt.Errorf("line %d: the record has no \"msg\"", n)
		}
		recs = append(recs, rec)
	}
	if h == nil {
		return nil, nil, false, errors.New("empty tape: no header line")
	}
	return h, recs, truncated, nil
}

func parseHeader(line []byte) (*Header, error) {
	var h Header
	if err := json.Unmarshal(line, &h); err != nil || h.Tape == 0 {
		return nil, errors.New(`the first line is not a tape header (a JSON object with "tape": <format version>)`)
	}
	if h.Tape > FormatVersion {
		return nil, fmt.Errorf("tape format version %d is newer than this reader's (%d)", h.Tape, FormatVersion)
	}
	return &h, nil
}

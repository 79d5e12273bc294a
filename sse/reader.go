package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"
)

// Event is one event block of a text/event-stream body, as the
// WHATWG EventSource parser sees it. Its slices are valid until the next
// call to Reader.Next.
type Event struct {
	// Name is the "event" field; "" means "message".
	Name string
	// Data is the joined "data" lines (without the final newline).
	Data []byte
	// HasData tells whether any data line was present (Data may be empty).
	HasData bool
	// ID is the "id" field; HasID tells whether one was present ("id:" with
	// no value resets the stream's last event id to "").
	ID    string
	HasID bool
	// Retry is the "retry" field, if any valid one was present (HasRetry).
	Retry    time.Duration
	HasRetry bool
	// TooLarge means the data exceeded the size limit and was discarded.
	TooLarge bool
}

// IsMessage reports whether the event carries a JSON-RPC message: a
// "message" event (named or not) with non-empty data. Other names (such as
// go-sdk's "prime" and "close") and empty data (priming events) carry none.
func (e *Event) IsMessage() bool {
	return (e.Name == "" || e.Name == "message") && len(e.Data) > 0 && !e.TooLarge
}

// Reader parses a text/event-stream body incrementally: each event is
// returned as soon as its blank line arrives, never after buffering the
// whole body. It accepts CRLF, LF and lone CR line endings, skips comments
// and unknown fields, and holds at most max bytes of data per event (plus
// one line of about as many); a larger event is skipped and reported
// with TooLarge, so one oversized message does not end the stream.
type Reader struct {
	br      *bufio.Reader
	max     int  // data bytes per event
	lineMax int  // bytes per line: max plus room for the field name
	started bool // the optional leading BOM was handled
	skipLF  bool // the previous line ended in CR: a following LF belongs to it
	line    []byte
	ev      Event
	data    []byte
}

// errLineTooLong marks a line longer than the limit; it never leaves
// the reader.
var errLineTooLong = errors.New("SSE line exceeds the maximum message size")

// NewReader reads events of at most max bytes from r. The read buffer is
// small on purpose: every POST answered with SSE and every held GET stream
// has one, and lines longer than the buffer are assembled anyway.
func NewReader(r io.Reader, max int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4<<10), max: max, lineMax: max + 64}
}

// Reset makes r read events of at most max bytes from src, as a new
// Reader would, keeping its buffers: a client reading one short stream per
// request (a POST's answer) need not allocate a read buffer for each.
func (r *Reader) Reset(src io.Reader, max int) {
	r.br.Reset(src)
	r.max, r.lineMax = max, max+64
	r.started, r.skipLF = false, false
	r.ev = Event{}
	if cap(r.line) > maxKeptBuffer {
		r.line = nil
	}
	if cap(r.data) > maxKeptBuffer {
		r.data = nil
	}
	r.line, r.data = r.line[:0], r.data[:0]
}

// maxKeptBuffer is the largest line or data buffer Reset keeps: a reader
// that once held a huge message does not keep its memory.
const maxKeptBuffer = 64 << 10

// Next returns the next event block that had at least one field. At the end
// of the body it returns io.EOF (an unterminated last block is discarded, as
// EventSource does); other errors are the body's read errors.
func (r *Reader) Next() (*Event, error) {
	if !r.started {
		r.started = true
		if b, err := r.br.Peek(3); err == nil && bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
			_, _ = r.br.Discard(3)
		}
	}
	r.ev = Event{}
	r.data = r.data[:0]
	fields := false
	for {
		line, err := r.readLine()
		if errors.Is(err, errLineTooLong) {
			// Only a data line can legitimately be this long.
			r.ev.TooLarge, fields = true, true
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			if !fields {
				continue
			}
			if r.ev.HasData && !r.ev.TooLarge {
				r.ev.Data = r.data
			}
			return &r.ev, nil
		}
		if line[0] == ':' {
			continue // comment, e.g. a keep-alive
		}
		name, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			name, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(name) {
		case "event":
			r.ev.Name, fields = string(value), true
		case "data":
			fields = true
			if r.ev.TooLarge {
				continue
			}
			if r.ev.HasData {
				r.data = append(r.data, '\n')
			}
			r.ev.HasData = true
			if len(r.data)+len(value) > r.max {
				r.ev.TooLarge = true
				r.data = r.data[:0]
				continue
			}
			r.data = append(r.data, value...)
		case "id":
			fields = true
			if bytes.IndexByte(value, 0) < 0 {
				r.ev.ID, r.ev.HasID = string(value), true
			}
		case "retry":
			fields = true
			if ms, err := strconv.ParseUint(string(value), 10, 32); err == nil {
				r.ev.Retry, r.ev.HasRetry = time.Duration(ms)*time.Millisecond, true
			}
		}
	}
}

// readLine returns the next line without its ending. The slice is valid
// until the next call.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	tooLong := false
	for {
		if r.skipLF {
			b, err := r.br.ReadByte()
			if err != nil {
				return nil, err
			}
			r.skipLF = false
			if b != '\n' {
				_ = r.br.UnreadByte()
			}
		}
		n := max(r.br.Buffered(), 1)
		chunk, err := r.br.Peek(n)
		if len(chunk) == 0 {
			return nil, err
		}
		i := bytes.IndexAny(chunk, "\r\n")
		part := chunk
		if i >= 0 {
			part = chunk[:i]
		}
		if !tooLong {
			if len(r.line)+len(part) > r.lineMax {
				tooLong = true
				r.line = r.line[:0]
			} else {
				r.line = append(r.line, part...)
			}
		}
		if i < 0 {
			_, _ = r.br.Discard(len(chunk))
			continue
		}
		r.skipLF = chunk[i] == '\r'
		_, _ = r.br.Discard(i + 1)
		if tooLong {
			return nil, errLineTooLong
		}
		return r.line, nil
	}
}

package remote

import (
	"bytes"
)

var (
	crlf     = []byte("\r\n")
	endOfHdr = []byte("\r\n\r\n")
)

// buffered is how much of a response a buffer holds.
type buffered int

const (
	partOfIt buffered = iota // reading it may wait for the server
	allOfIt                  // header and body to its last byte
	// eventsSoFar is a chunked body whose buffered chunks are whole and
	// end with an SSE event's blank line: readable without waiting up to
	// there (the stream's end, or more events, may follow).
	eventsSoFar
)

// wholeResponse reports whether b begins with a whole HTTP/1.1 response.
func wholeResponse(b []byte) bool { return bufferedResponse(b) == allOfIt }

// bufferedResponse tells how much of an HTTP/1.1 response b begins with:
// all of it (its status line, header and a body framed by Content-Length or
// by the chunked coding, to its last byte), events so far, or only part.
// It only decides whether reading the response can wait on the server;
// net/http parses it afterwards. So it errs on the side of partOfIt: a 1xx,
// a body that ends with the connection, a header it does not follow
// (folded lines, two lengths, another coding) are partOfIt, and that only
// costs the caller a goroutine.
func bufferedResponse(b []byte) buffered {
	end := bytes.Index(b, endOfHdr)
	if end < 0 {
		return partOfIt
	}
	head, body := b[:end+2], b[end+4:]
	if n := bytes.Count(head, crlf); bytes.Count(head, []byte("\n")) != n || bytes.Count(head, []byte("\r")) != n {
		return partOfIt // a bare LF ends a line for net/http: it may read another header
	}
	status, head, _ := bytes.Cut(head, crlf)
	// HTTP/1.0 ignores Transfer-Encoding: its body may end with the
	// connection.
	if len(status) < 12 || !bytes.HasPrefix(status, []byte("HTTP/1.1 ")) {
		return partOfIt
	}
	code := status[9:12]
	if _, ok := parseDecimal(code); !ok {
		return partOfIt
	}
	switch {
	case code[0] == '1':
		return partOfIt // an interim response: another follows
	case string(code) == "204" || string(code) == "304":
		return allOfIt // no body
	}
	length, chunked := int64(-1), false
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, crlf)
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || name[0] == ' ' || name[0] == '\t' {
			return partOfIt
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseDecimal(value)
			if !ok || length >= 0 {
				return partOfIt
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if chunked || !bytes.EqualFold(value, []byte("chunked")) {
				return partOfIt
			}
			chunked = true
		}
	}
	switch {
	case chunked && length < 0:
		got := bufferedChunks(body)
		if got == eventsSoFar && code[0] != '2' {
			return partOfIt // only a stream of events is read so far
		}
		return got
	case !chunked && length >= 0 && int64(len(body)) >= length:
		return allOfIt
	}
	return partOfIt
}

// bufferedChunks tells how much of a chunked body b holds: all of it (its
// chunks, the last chunk and the trailer's end), whole chunks whose data
// ends with an SSE event (eventsSoFar), or part.
func bufferedChunks(b []byte) buffered {
	var end [4]byte // the last bytes of the data so far
	n := 0
	for {
		if len(b) == 0 {
			if endsEvent(end[len(end)-min(n, len(end)):]) {
				return eventsSoFar
			}
			return partOfIt
		}
		line, rest, ok := bytes.Cut(b, crlf)
		if !ok {
			return partOfIt
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // a chunk extension
		}
		size, ok := parseHex(bytes.TrimRight(line, " \t"))
		if !ok {
			return partOfIt
		}
		if size == 0 {
			// The trailer: empty, or header lines up to an empty one.
			if bytes.HasPrefix(rest, crlf) || bytes.Contains(rest, endOfHdr) {
				return allOfIt
			}
			return partOfIt
		}
		if int64(len(rest)) < size+2 || !bytes.HasPrefix(rest[size:], crlf) {
			return partOfIt
		}
		data := rest[:size]
		if len(data) >= len(end) {
			copy(end[:], data[len(data)-len(end):])
		} else {
			copy(end[:], end[len(data):])
			copy(end[len(end)-len(data):], data)
		}
		n += len(data)
		b = rest[size+2:]
	}
}

// endsEvent reports whether data ends with the blank line that ends an
// SSE event, in any of the line endings SSE allows.
func endsEvent(data []byte) bool {
	return bytes.HasSuffix(data, []byte("\n\n")) || bytes.HasSuffix(data, []byte("\r\n\r\n")) ||
		bytes.HasSuffix(data, []byte("\r\r"))
}

// parseDecimal parses a Content-Length: digits only, at most 18 of them.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseHex parses a chunk size: hex digits only, at most 15 of them.
func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | int64(c)
	}
	return n, true
}

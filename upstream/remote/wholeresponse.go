package remote

import (
	"bytes"
)

var (
	crlf     = []byte("\r\n")
	endOfHdr = []byte("\r\n\r\n")
)

// wholeResponse reports whether b begins with a whole HTTP/1.1 response:
// its status line, header and a body framed by Content-Length or by the
// chunked coding, to its last byte. It only decides whether reading the
// response can wait on the server; net/http parses it afterwards. So it
// errs on the side of false: a 1xx, a body that ends with the connection, a
// header it does not follow (folded lines, two lengths, another coding)
// are false, and a false only costs the caller a goroutine.
func wholeResponse(b []byte) bool {
	end := bytes.Index(b, endOfHdr)
	if end < 0 {
		return false
	}
	head, body := b[:end+2], b[end+4:]
	status, head, _ := bytes.Cut(head, crlf)
	if len(status) < 12 || !bytes.HasPrefix(status, []byte("HTTP/1.")) || status[8] != ' ' {
		return false
	}
	switch code := status[9:12]; {
	case code[0] == '1':
		return false // an interim response: another follows
	case string(code) == "204" || string(code) == "304":
		return true // no body
	}
	length, chunked := int64(-1), false
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, crlf)
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || name[0] == ' ' || name[0] == '\t' {
			return false
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseDecimal(value)
			if !ok || length >= 0 {
				return false
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if chunked || !bytes.EqualFold(value, []byte("chunked")) {
				return false
			}
			chunked = true
		}
	}
	switch {
	case chunked && length < 0:
		return wholeChunked(body)
	case !chunked && length >= 0:
		return int64(len(body)) >= length
	}
	return false
}

// wholeChunked reports whether b holds a whole chunked body: its chunks,
// the last chunk and the trailer's end.
func wholeChunked(b []byte) bool {
	for {
		line, rest, ok := bytes.Cut(b, crlf)
		if !ok {
			return false
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // a chunk extension
		}
		size, ok := parseHex(bytes.TrimRight(line, " \t"))
		if !ok {
			return false
		}
		if size == 0 {
			// The trailer: empty, or header lines up to an empty one.
			return bytes.HasPrefix(rest, crlf) || bytes.Contains(rest, endOfHdr)
		}
		if int64(len(rest)) < size+2 || !bytes.HasPrefix(rest[size:], crlf) {
			return false
		}
		b = rest[size+2:]
	}
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

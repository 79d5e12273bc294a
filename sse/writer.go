package sse

import (
	"bytes"
	"strconv"
)

// AppendEvent appends a "message" event to dst and returns the extended
// buffer. id is written first when not empty. data may span lines; each
// line gets its own "data:" field, so the framing survives any JSON
// formatting. nil data makes a priming event: the id and empty data, no
// event name.
func AppendEvent(dst []byte, id string, data []byte) []byte {
	if id != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, id...)
		dst = append(dst, '\n')
	}
	if data == nil {
		dst = append(dst, "data: \n\n"...)
		return dst
	}
	return AppendNamed(dst, "message", data)
}

// AppendNamed appends an event with the given name and data, one "data:"
// field per line of data (lines end at CRLF, LF or CR, as SSE parsers
// split them). A caller that wants an id writes it first (AppendEvent).
func AppendNamed(dst []byte, name string, data []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, '\n')
	for {
		i := bytes.IndexAny(data, "\r\n")
		line := data
		if i >= 0 {
			line = data[:i]
		}
		dst = append(dst, "data: "...)
		dst = append(dst, line...)
		dst = append(dst, '\n')
		if i < 0 {
			break
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(dst, '\n')
}

// AppendRetry appends an event that carries only an id, a reconnection
// hint in milliseconds and empty data: what a server sends last on a
// stream it ends while the client is expected to resume from id.
func AppendRetry(dst []byte, id string, retryMs int64) []byte {
	dst = append(dst, "id: "...)
	dst = append(dst, id...)
	dst = append(dst, "\nretry: "...)
	dst = strconv.AppendInt(dst, retryMs, 10)
	return append(dst, "\ndata: \n\n"...)
}

// AppendComment appends a comment block (": text" and a blank line), which
// parsers skip: a keep-alive, or the first bytes of a stream.
func AppendComment(dst []byte, text string) []byte {
	dst = append(dst, ": "...)
	dst = append(dst, text...)
	return append(dst, "\n\n"...)
}

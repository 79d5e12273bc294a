package remote

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Responses as servers send them, each whole.
var wholeResponses = map[string]string{
	"json": "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n" +
		`{"jsonrpc":"2.0","id":1,"r"}`[:27],
	"sse, chunked": "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"1e\r\nevent: message\ndata: {\"a\":1}\n\n\r\n0\r\n\r\n",
	"two chunks, an extension, upper-case hex": "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n" +
		"3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n",
	"a trailer":       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n",
	"no body (202)":   "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
	"no body (204)":   "HTTP/1.1 204 No Content\r\n\r\n",
	"an error status": "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found",
}

// TestWholeResponse: a whole response is whole, and no prefix of it is:
// reading one that is not whole could wait on the server.
func TestWholeResponse(t *testing.T) {
	for name, resp := range wholeResponses {
		t.Run(name, func(t *testing.T) {
			// net/http reads the same response, to its end.
			r, err := http.ReadResponse(bufio.NewReader(strings.NewReader(resp)), nil)
			if err != nil {
				t.Fatalf("net/http cannot read the test's response: %v", err)
			}
			if _, err := io.ReadAll(r.Body); err != nil {
				t.Fatalf("net/http cannot read the test's body: %v", err)
			}
			if !wholeResponse([]byte(resp)) {
				t.Errorf("wholeResponse(%q) = false, want true", resp)
			}
			if !wholeResponse([]byte(resp + "HTTP/1.1 200 OK\r\n")) {
				t.Errorf("with bytes after it: false, want true")
			}
			for n := range len(resp) {
				if wholeResponse([]byte(resp[:n])) {
					t.Fatalf("its first %d bytes (%q) are whole, want false", n, resp[:n])
				}
			}
		})
	}
}

// TestWholeResponseRefuses: what it does not follow is not whole, even
// when every byte of it is there.
func TestWholeResponseRefuses(t *testing.T) {
	for _, tc := range []struct{ name, resp string }{
		{"an interim response", "HTTP/1.1 100 Continue\r\n\r\n"},
		{"a body to the connection's end", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"},
		{"a length and chunked", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"another coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{"a folded line", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n X-Folded: 1\r\n\r\nok"},
		{"a length that is not a number", "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok"},
		{"a negative length", "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok"},
		{"a chunk size that is not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n"},
		{"a chunk longer than it says", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nok\r\n0\r\n\r\n"},
		{"a huge chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nok\r\n0\r\n\r\n"},
		{"not HTTP/1.x", "HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"HTTP/1.0, chunked (a body to the connection's end)", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"a line that ends with a bare LF", "HTTP/1.1 200 \n\r\nContent-Length:0\r\n\r\nmore"},
		{"a status that is not a number", "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"a header line without a colon", "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if wholeResponse([]byte(tc.resp)) {
				t.Errorf("wholeResponse(%q) = true, want false", tc.resp)
			}
		})
	}
}

// FuzzWholeResponse: whatever wholeResponse calls whole, net/http reads
// whole from those bytes alone, never asking for more.
func FuzzWholeResponse(f *testing.F) {
	for _, resp := range wholeResponses {
		f.Add([]byte(resp))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !wholeResponse(b) {
			return
		}
		r, err := http.ReadResponse(bufio.NewReader(eofReader{bytes.NewReader(b)}), nil)
		if err != nil {
			return // net/http refuses it: the caller's read fails at once
		}
		if _, err := io.ReadAll(r.Body); errors.Is(err, errNeededMore) {
			t.Fatalf("wholeResponse(%q) = true, but net/http reads past its end", b)
		}
	})
}

// eofReader reports a read past the end of its bytes as errNeededMore.
type eofReader struct{ r *bytes.Reader }

var errNeededMore = errors.New("read past the end of the bytes")

func (e eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errNeededMore
	}
	return n, err
}

// TestBufferedEventsSoFar: a stream's whole chunks that end with an
// event are readable so far; a chunk cut short, an event cut short, a
// failure status or a length-framed body are not.
func TestBufferedEventsSoFar(t *testing.T) {
	const head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct {
		name, resp string
		want       buffered
	}{
		{"one event", head + "f\r\ndata: {\"a\":1}\n\n\r\n", eventsSoFar},
		{"two chunks, CRLF lines", head + "a\r\ndata: {}\r\n\r\n2\r\n\r\n\r\n", eventsSoFar},
		{"lone CR lines", head + "9\r\ndata: 1\r\r\r\n", eventsSoFar},
		{"and its end", head + "f\r\ndata: {\"a\":1}\n\n\r\n0\r\n\r\n", allOfIt},
		{"the end cut short", head + "f\r\ndata: {\"a\":1}\n\n\r\n0\r\n", partOfIt},
		{"a chunk cut short", head + "f\r\ndata: {\"a\":1}\n", partOfIt},
		{"without its line end", head + "f\r\ndata: {\"a\":1}\n\n", partOfIt},
		{"an event cut short", head + "e\r\ndata: {\"a\":1}\n\r\n", partOfIt},
		{"a second chunk's size only", head + "f\r\ndata: {\"a\":1}\n\n\r\n10\r\n", partOfIt},
		{"no chunk yet", head, partOfIt},
		{"a failure status", "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nx\n\n\n\r\n", partOfIt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := bufferedResponse([]byte(tc.resp)); got != tc.want {
				t.Errorf("bufferedResponse(%q) = %d, want %d", tc.resp, got, tc.want)
			}
		})
	}
}

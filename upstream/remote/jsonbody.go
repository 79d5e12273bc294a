package remote

import (
	"bytes"
	"io"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// jsonBodies recycles the buffers application/json answers are read into:
// ParseBody copies what its messages keep, so a buffer is free again once
// it returns. readBounded cost a bounding reader and a 512-byte buffer per
// answer, the JSON path's only allocations beyond the SSE path's (issue 27).
var jsonBodies = sync.Pool{New: func() any { return new(jsonBody) }}

// jsonBody is an answer's buffer and the reader that bounds it.
type jsonBody struct {
	buf   bytes.Buffer
	limit io.LimitedReader
}

// maxPooledJSON is the largest buffer kept for reuse: any ordinary answer,
// not one that a large resource made grow.
const maxPooledJSON = 64 << 10

// readJSONMessages reads a JSON answer of at most limit bytes from r and
// parses it. tooLarge reports a longer body, readErr a failed read and
// parseErr a body that is not JSON-RPC.
func readJSONMessages(r io.Reader, limit int) (msgs []*pipeline.Message, tooLarge bool, readErr, parseErr error) {
	b := jsonBodies.Get().(*jsonBody)
	defer b.release()
	b.limit = io.LimitedReader{R: r, N: int64(limit) + 1}
	_, readErr = b.buf.ReadFrom(&b.limit)
	b.limit.R = nil
	switch {
	case b.buf.Len() > limit:
		return nil, true, nil, nil
	case readErr != nil:
		return nil, false, readErr, nil
	}
	msgs, _, parseErr = pipeline.ParseBody(b.buf.Bytes())
	return msgs, false, nil, parseErr
}

func (b *jsonBody) release() {
	if b.buf.Cap() <= maxPooledJSON {
		b.buf.Reset()
		jsonBodies.Put(b)
	}
}

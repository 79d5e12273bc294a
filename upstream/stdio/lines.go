package stdio

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// errLineTooLong reports a stdout line longer than the message size limit;
// the line is skipped, the stream goes on.
var errLineTooLong = errors.New("line exceeds the maximum message size")

// lineReader splits newline-delimited JSON-RPC (the stdio framing) into
// lines of at most max bytes. A longer line is discarded up to its newline
// and reported once as errLineTooLong, so one oversized message does not
// end the connection.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its newline. The slice is valid until
// the next call. At the end of input it returns io.EOF (after a last line
// without newline, if any).
func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	tooLong := false
	for {
		frag, err := l.r.ReadSlice('\n')
		if err == nil && len(l.buf) == 0 && !tooLong && len(frag) <= l.max+1 {
			// The whole line sits in the reader's buffer: no copy.
			return frag[:len(frag)-1], nil
		}
		if !tooLong {
			if len(l.buf)+len(frag) > l.max+1 { // +1: the newline itself
				tooLong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, frag...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, errLineTooLong
			}
			return l.buf[:len(l.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			if tooLong {
				return nil, errLineTooLong
			}
			if len(l.buf) > 0 {
				return l.buf, nil
			}
			return nil, err
		}
	}
}

// readMessages parses newline-delimited JSON-RPC from r until EOF and hands
// each message to handle. An oversized line or one that is not a JSON-RPC
// message is logged and skipped (an answer refused as ambiguous is handed
// on as pipeline.StandIn's error answer): stdout should carry only MCP messages, and
// a server bug there is worth a log line, not the end of the session. It
// returns the read error, or nil at EOF.
func readMessages(r io.Reader, maxMessageSize int, logger *zap.Logger, handle func(*pipeline.Message)) error {
	lr := newLineReader(r, maxMessageSize)
	for {
		line, err := lr.next()
		if errors.Is(err, errLineTooLong) {
			logger.Warn("dropped a server message larger than max_message_size",
				zap.Int("max_message_size", maxMessageSize))
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := pipeline.Parse(line)
		if err != nil {
			logger.Warn("server wrote a line to stdout that is not a JSON-RPC message",
				zap.Error(err), zap.ByteString("line", truncate(line, 256)))
			if m = pipeline.StandIn(line, err); m == nil {
				continue
			}
		}
		handle(m)
	}
}

package stdio

import (
	"errors"
	"fmt"
	"io"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// readyPingID is the id of the ping that checks a new spare. No session sees
// its answer: the check reads the process's stdout up to that answer and no
// further, before any session owns the process.
const readyPingID = `"caddy-mcp-ready"`

var readyPing = []byte(`{"jsonrpc":"2.0","id":` + readyPingID + `,"method":"ping"}` + "\n")

// errNoPong ends a readiness check whose server closed stdout first.
var errNoPong = errors.New("the server closed its stdout before answering the readiness ping " +
	"(a server that cannot take a ping before initialize needs spare_check off)")

// PingReady returns a readiness check for new spare processes (a
// pool.Config.Ready): it sends an MCP ping — the one request a client may
// send before initialize — and returns once the server answered it, with a
// result or with an error (either way the server is reading and writing
// MCP). Lines before the answer, such as a banner a server prints at start,
// are skipped; a line longer than maxLine is an error. It reads one byte at
// a time so that nothing after the answer's newline is taken from the
// session that gets the process; the pool bounds the wait.
func PingReady(maxLine int) func(stdin io.Writer, stdout io.Reader) error {
	return func(stdin io.Writer, stdout io.Reader) error {
		if _, err := stdin.Write(readyPing); err != nil {
			return fmt.Errorf("writing the readiness ping: %w", err)
		}
		line := make([]byte, 0, 128)
		b := make([]byte, 1)
		for {
			n, err := stdout.Read(b)
			if n == 1 {
				if b[0] != '\n' {
					if len(line) >= maxLine {
						return fmt.Errorf("a stdout line longer than %d bytes before the readiness ping's answer", maxLine)
					}
					line = append(line, b[0])
					continue
				}
				if isReadyPong(line) {
					return nil
				}
				line = line[:0]
				continue
			}
			if errors.Is(err, io.EOF) {
				return errNoPong
			}
			if err != nil {
				return fmt.Errorf("reading the readiness ping's answer: %w", err)
			}
		}
	}
}

// isReadyPong reports whether line is the answer to readyPing.
func isReadyPong(line []byte) bool {
	m, err := pipeline.Parse(line)
	return err == nil && m.IsResponse() && string(m.ID) == readyPingID
}

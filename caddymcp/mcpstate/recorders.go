package mcpstate

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/tape"
	"github.com/caddy-mcp/caddy-mcp/tape/record"
)

// Recorders holds each endpoint's recorder across reloads that keep its
// record settings, so that a live session's tape goes on in the same file.
var Recorders = caddy.NewUsagePool()

// RecorderEntry is a recorder and the writer it writes through.
type RecorderEntry struct {
	Dir      string
	Endpoint string
	Writer   *tape.Writer
	Recorder *record.Recorder
}

// Destruct writes what is queued and closes the tapes.
func (e *RecorderEntry) Destruct() error {
	e.Writer.Close()
	return nil
}

package federate

import (
	"errors"

	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// errCursor is a cursor the gateway did not make (or no longer can use).
var errCursor = errors.New("invalid cursor")

// encodeCursor makes the gateway's cursor: a tag (upstream/tags) naming
// the server whose page comes next, by name (stable across reloads that
// reorder servers), with that server's own cursor of the page ("" for its
// first). Being a tag, it is sealed with a cluster's key on its way to the
// client, like every other tag the gateway mints, and opened on its way
// back before the federation reads it.
func encodeCursor(server, cursor string) string { return tags.Seal(server, cursor) }

// decodeCursor reads a cursor encodeCursor made.
func decodeCursor(s string) (server, cursor string, err error) {
	server, cursor, ok := tags.Open(s)
	if !ok || server == "" {
		return "", "", errCursor
	}
	return server, cursor, nil
}

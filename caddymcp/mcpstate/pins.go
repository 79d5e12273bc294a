package mcpstate

import (
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/pipeline/pins"
)

// PinBooks holds *PinEntry values keyed by endpoint name: the pins of
// each endpoint with pin_tools, which outlive a reload that keeps it (its
// reload loop with them). mcp_proxy writes it; the admin API and the
// console read it.
var PinBooks = caddy.NewUsagePool()

// PinEntry is an endpoint's pin book.
type PinEntry struct {
	Book *pins.Book
}

// Destruct stops the book's reloads when no configuration pins the
// endpoint's tools any more.
func (e *PinEntry) Destruct() error {
	e.Book.Close()
	return nil
}

// PinBookList returns the pin books by endpoint name. The usage pool's
// lock is held only while they are copied.
func PinBookList() []*pins.Book {
	var books []*pins.Book
	PinBooks.Range(func(_, val any) bool {
		if e, ok := val.(*PinEntry); ok {
			books = append(books, e.Book)
		}
		return true
	})
	slices.SortFunc(books, func(a, b *pins.Book) int { return strings.Compare(a.Endpoint(), b.Endpoint()) })
	return books
}

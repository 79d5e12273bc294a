package remote

import (
	"net/url"
	"strconv"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// peerOf is the server at u, named name, as traces name it: its host and
// port (the scheme's default when the URL names none).
func peerOf(name string, u *url.URL) upstream.Peer {
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		port = 80
		if u.Scheme == "https" {
			port = 443
		}
	}
	return upstream.Peer{Name: name, Transport: "tcp", Address: u.Hostname(), Port: port}
}

// Peer implements upstream.PeerDescriber.
func (h *HTTP) Peer() upstream.Peer { return h.peer }

// Peer implements upstream.PeerDescriber.
func (a *Auto) Peer() upstream.Peer { return a.h.peer }

// Peer implements upstream.PeerDescriber.
func (l *SSE2024) Peer() upstream.Peer { return l.h.peer }

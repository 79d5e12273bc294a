package upstream

import "context"

// Attacher is an Upstream that can join a server session that already
// exists — one that another instance of a cluster of gateways started, whose
// id and negotiated revision that instance sealed into the client's session
// id. The Conn it returns goes on as the one that initialized the session
// would: no initialize is sent, every request carries the session id.
type Attacher interface {
	// Attach returns a Conn to the server's session sessionID, which
	// negotiated revision version. It does not contact the server: a
	// session that no longer exists shows on the first Send, as for a
	// Conn whose session the server ended (Receiver.Closed).
	Attach(ctx context.Context, r Receiver, sessionID, version string) (Conn, error)
}

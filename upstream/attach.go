package upstream

import (
	"context"
	"encoding/json"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Existing names a server session that already exists: one that another
// instance of a cluster of gateways started, and whose identity that
// instance sealed into the client's session id.
type Existing struct {
	// Server names the federated server the session is on (empty for an
	// endpoint that is not federated).
	Server string
	// Member names the upstream of a group that serves the session, as the
	// operator wrote it; an upstream that is not a group ignores it.
	Member string
	// SessionID is the server's own Mcp-Session-Id.
	SessionID string
	// Version is the protocol revision the session negotiated.
	Version string
}

// Attacher is an Upstream that can join an Existing server session. The
// Conn it returns goes on as the one that initialized the session would:
// no initialize is sent, every request carries the session id.
type Attacher interface {
	// Attach returns a Conn to the server session e. It does not contact
	// the server: a session that no longer exists shows on the first Send,
	// as for a Conn whose session the server ended (Receiver.Closed).
	Attach(ctx context.Context, r Receiver, e Existing) (Conn, error)
}

// Joinable is a Conn whose server session another instance may join: it
// tells which session that is, to be sealed into the client's session id.
type Joinable interface {
	// Existing returns the server session behind the Conn; ok is false
	// while none is known (before the initialize answer, a server that
	// issued no session id) or once the server ended it.
	Existing() (e Existing, ok bool)
}

// Detacher is a Conn that can close while its server session lives on, for
// another instance of a cluster of gateways to go on with. Close ends the
// server session (the client said so); Detach only lets go of it (this
// instance shuts down or stops holding the session).
type Detacher interface {
	// Detach closes the Conn as Close does, without ending the server
	// session.
	Detach()
}

// SessionsJoinable is a Conn over several server sessions (a federation):
// it tells which they are, one per server, to be sealed into the client's
// session id.
type SessionsJoinable interface {
	// ExistingSessions returns the server sessions behind the Conn, each
	// naming its server; ok is false when the session cannot be joined
	// elsewhere at all (a server whose sessions live in one process).
	ExistingSessions() (es []Existing, ok bool)
}

// SessionsAttacher is an Upstream over several servers that can join the
// sessions a SessionsJoinable named: a server with no session among them
// (it was down when they were named, or keeps none) gets a new one.
type SessionsAttacher interface {
	// AttachSessions returns a Conn over the server sessions es, of
	// protocol revision version. It fails when no server could be joined.
	AttachSessions(ctx context.Context, r Receiver, version string, es []Existing) (Conn, error)
}

// GetResumer is a Conn whose standalone stream can pick up where a client
// left it on another instance of a cluster: from the server's own event
// id, which the other instance sealed into the client's event id
// (pipeline.Message.EventID).
type GetResumer interface {
	// ResumeGet makes the next opening of the server's standalone stream
	// ask for the events after eventID (Last-Event-ID). It reports false,
	// and changes nothing, while that stream is open already.
	ResumeGet(eventID string) bool
}

// GetReleaser is a Listener whose server's standalone stream a cluster
// lets go of as soon as no client of this instance listens, without the
// grace period: the client's next GET may land on another instance, and a
// server keeps one standalone stream per session (a go-sdk server refuses
// a second with 409), so an instance that held on to it would keep the
// server's messages from the instance the client listens on.
type GetReleaser interface {
	// ReleaseGet closes the server's standalone stream now if no client
	// listens (Listen); it changes nothing while one does.
	ReleaseGet()
}

// StreamResumer is a Conn that can read, from the server's own event id, a
// stream that a POST sent through another instance of a cluster was
// answered with, for that instance's client to go on with here.
type StreamResumer interface {
	// ResumeStream hands deliver each message the server's stream carries
	// after eventID, until the stream carried its response, ctx ends, or
	// the server stops making progress. deliver is called on one goroutine.
	ResumeStream(ctx context.Context, eventID string, deliver func(*pipeline.Message)) error
}

// ResumedCall is a client request that another instance of a cluster sent
// upstream, whose answer stream this instance goes on with.
type ResumedCall struct {
	// ID is the request's id as the client wrote it (raw JSON).
	ID json.RawMessage
	// Method is the request's method, Target what it names
	// (pipeline.Message.Target).
	Method, Target string
}

// CallResumer is a Conn whose servers know a client's requests by ids of
// its own (a federation), which can go on, from the upstream event id that
// another instance of a cluster sealed into the client's event id, with
// the stream that answers call: what it carries after that id reaches the
// Conn's Receiver as call's (RelatedReceiver.DeliverRelated with call.ID),
// its answer under the client's id, as if this Conn had sent the request.
type CallResumer interface {
	// ResumeCall returns once the answer was delivered (nil), or when ctx
	// ends or the stream cannot be resumed (an error, nothing answered).
	ResumeCall(ctx context.Context, eventID string, call ResumedCall) error
}

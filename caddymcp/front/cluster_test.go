package front

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

func testRing(t testing.TB) *seal.Ring {
	t.Helper()
	k, err := seal.ParseKey(seal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	r, err := seal.NewRing(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func withCluster(c *Cluster) func(*setup) {
	return func(s *setup) { s.cfg.Cluster = c }
}

// TestClusterSessionIDs: with a cluster the session id is a sealed token
// bound to the endpoint and the user; a session of another user, a
// tampered id and an id sealed for another endpoint are all 404, the
// answer to an unknown session.
func TestClusterSessionIDs(t *testing.T) {
	t.Parallel()
	cl := &Cluster{Ring: testRing(t), Endpoint: "api"}
	h := newHarness(t, testUser, withCluster(cl))
	rp := h.do(t, req{user: "alice", body: initBody(Version20250618)})
	wantStatus(t, rp, http.StatusOK)
	sid := rp.header.Get("Mcp-Session-Id")

	got, ok := cl.openSessionID(sid, "alice")
	if !ok {
		t.Fatalf("the session id %q does not open for its endpoint and user", sid)
	}
	if got.Revision != Version20250618 || got.Issued.IsZero() {
		t.Errorf("the id carries %+v", got)
	}
	if _, ok := cl.openSessionID(sid, "mallory"); ok {
		t.Error("the id opens for another user")
	}
	if _, ok := (&Cluster{Ring: cl.Ring, Endpoint: "admin"}).openSessionID(sid, "alice"); ok {
		t.Error("the id opens on another endpoint")
	}

	raw, _ := base64.RawURLEncoding.DecodeString(sid)
	raw[len(raw)-1] ^= 1
	tampered := base64.RawURLEncoding.EncodeToString(raw)
	elsewhere := (&Cluster{Ring: cl.Ring, Endpoint: "admin"}).mintSessionID("alice", Version20250618)
	for _, c := range []struct{ name, user, sid string }{
		{"another user", "mallory", sid},
		{"anonymous", "", sid},
		{"tampered", "alice", tampered},
		{"minted for another endpoint", "alice", elsewhere},
	} {
		t.Run(c.name, func(t *testing.T) {
			rp := h.do(t, req{user: c.user, sid: c.sid, version: Version20250618, body: toolCall(1, "echo")})
			wantError(t, rp, http.StatusNotFound, codeSessionNotFound, "Session not found")
			if strings.Contains(rp.String(), "user") {
				t.Errorf("the 404 hints why: %s", rp)
			}
		})
	}
	// The session is untouched by the refused requests.
	wantStatus(t, h.do(t, req{user: "alice", sid: sid, version: Version20250618, body: toolCall(2, "echo")}), http.StatusOK)
}

// TestNoClusterSessionIDs: without a cluster ids are as before, 32 hex
// characters, and a session of another user is refused with 403.
func TestNoClusterSessionIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testUser)
	rp := h.do(t, req{user: "alice", body: initBody(Version20250618)})
	wantStatus(t, rp, http.StatusOK)
	sid := rp.header.Get("Mcp-Session-Id")
	if len(sid) != 32 || strings.Trim(sid, "0123456789abcdef") != "" {
		t.Errorf("session id %q is not 32 hex characters", sid)
	}
	wantError(t, h.do(t, req{user: "mallory", sid: sid, version: Version20250618, body: toolCall(1, "echo")}),
		http.StatusForbidden, -32600, "another user")
}

// TestClusterMintOddRevision: an initialize asking for a revision that is
// not a date still gets a session, whose id carries no revision.
func TestClusterMintOddRevision(t *testing.T) {
	cl := &Cluster{Ring: testRing(t), Endpoint: "api"}
	s, ok := cl.openSessionID(cl.mintSessionID("u", "draft-2026"), "u")
	if !ok || s.Revision != "" {
		t.Errorf("opened %+v, %v", s, ok)
	}
}

// TestClusterRotationEndsHeldSessions: after a reload whose keys no
// longer open a held session's id (the last step of a key rotation), the
// instance that holds the session answers 404 as every other instance
// does; while the old key is still listed, the session goes on.
func TestClusterRotationEndsHeldSessions(t *testing.T) {
	t.Parallel()
	key := func() []byte {
		k, err := seal.ParseKey(seal.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	oldKey, newKey := key(), key()
	ring := func(keys ...[]byte) *Cluster {
		r, err := seal.NewRing(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return &Cluster{Ring: r, Endpoint: "api"}
	}
	h := newHarness(t, testUser, withCluster(ring(oldKey)))
	rp := h.do(t, req{user: "alice", body: initBody(Version20250618)})
	wantStatus(t, rp, http.StatusOK)
	sid := rp.header.Get("Mcp-Session-Id")

	// reload serves a call of the session on a configuration of the same
	// endpoint (the same store) with cluster c.
	reload := func(c *Cluster, id int) *httptest.ResponseRecorder {
		t.Helper()
		cfg := h.server.cfg
		cfg.Cluster = c
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := h.build(context.Background(), req{user: "alice", sid: sid, version: Version20250618, body: toolCall(id, "echo")})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	if w := reload(ring(newKey, oldKey), 1); w.Code != http.StatusOK {
		t.Fatalf("with key NEW OLD: %d %s", w.Code, w.Body)
	}
	if w := reload(ring(newKey), 2); w.Code != http.StatusNotFound {
		t.Fatalf("with key NEW: %d %s, want 404", w.Code, w.Body)
	}
	if h.store.get(sid) != nil {
		t.Error("the session sealed with the dropped key is still held")
	}
}

// TestClusterAddedByReload: a session begun before a reload added the
// cluster (its id is not sealed) goes on on the instance that holds it.
func TestClusterAddedByReload(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testUser)
	rp := h.do(t, req{user: "alice", body: initBody(Version20250618)})
	wantStatus(t, rp, http.StatusOK)
	cfg := h.server.cfg
	cfg.Cluster = &Cluster{Ring: testRing(t), Endpoint: "api"}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.build(context.Background(), req{user: "alice", sid: rp.header.Get("Mcp-Session-Id"), version: Version20250618, body: toolCall(1, "echo")})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("after the reload that added the cluster: %d %s", w.Code, w.Body)
	}
}

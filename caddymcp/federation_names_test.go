package caddymcp

import (
	"slices"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
)

// TestFederatedReplicaNames: replicas of different servers with the same
// default name (two servers of sh commands) are told apart as
// <server>/<replica>, in the built upstreams, the balance members and the
// admin API's descriptions, each with its server; an endpoint without
// servers keeps the names as they were.
func TestFederatedReplicaNames(t *testing.T) {
	mark := marker(t)
	h := &Handler{Name: "fed-names-" + mark, Servers: []*ServerConfig{
		{Name: "github", Upstreams: []*UpstreamConfig{stdioUp(mark, "1"), stdioUp(mark, "2")}},
		{Name: "docs", Upstreams: []*UpstreamConfig{stdioUp(mark, "3")}},
	}}
	if err := h.checkServersConfig(); err != nil {
		t.Fatal(err)
	}
	if err := provision(t, configContext(t), h); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	var built, members []string
	for _, b := range h.built {
		built = append(built, b.server+":"+b.name)
	}
	for _, m := range h.members {
		members = append(members, m.Name())
	}
	if want := []string{"github:github/sh", "github:github/sh-2", "docs:docs/sh"}; !slices.Equal(built, want) {
		t.Errorf("built %v, want %v", built, want)
	}
	if want := []string{"github/sh", "github/sh-2", "docs/sh"}; !slices.Equal(members, want) {
		t.Errorf("members %v, want %v", members, want)
	}
	e := &mcpstate.StoreEntry{}
	describe(e, h.built, h.members)
	for _, d := range *e.Upstreams.Load() {
		if d.Server == "" || d.Name[:len(d.Server)+1] != d.Server+"/" {
			t.Errorf("description %+v: want its server and <server>/<replica>", d)
		}
	}

	names := []string{"sh", "sh-2"}
	replicaNames("", names)
	if !slices.Equal(names, []string{"sh", "sh-2"}) {
		t.Errorf("without federation the names changed: %v", names)
	}
}

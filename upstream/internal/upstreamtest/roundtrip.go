// Package upstreamtest holds test code that the upstream kinds share: the
// round-trip benchmark that measures a stdio and an HTTP upstream alike.
// It imports upstream and pipeline, and only tests import it.
package upstreamtest

import (
	"context"
	"strconv"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// ChanReceiver hands every server message to a channel.
type ChanReceiver chan *pipeline.Message

// Deliver sends m on the channel.
func (c ChanReceiver) Deliver(m *pipeline.Message) { c <- m }

// Closed ignores the end: the benchmark waits for responses only.
func (c ChanReceiver) Closed(error) {}

// BenchmarkRoundTrips initializes one session on conn and then measures
// tools/call round trips (send, the server's work, the response parsed and
// delivered) one after the other. The server must have an echo tool; rec
// must be the Receiver conn was opened with.
func BenchmarkRoundTrips(b *testing.B, conn upstream.Conn, rec ChanReceiver) {
	benchmarkRoundTrips(b, conn, rec, false)
}

// BenchmarkAwaitedRoundTrips is BenchmarkRoundTrips with each call sent as
// a client POST's only request is (upstream.SendAwaited).
func BenchmarkAwaitedRoundTrips(b *testing.B, conn upstream.Conn, rec ChanReceiver) {
	benchmarkRoundTrips(b, conn, rec, true)
}

func benchmarkRoundTrips(b *testing.B, conn upstream.Conn, rec ChanReceiver, awaited bool) {
	ctx := context.Background()
	send := func(awaited bool, raw string) {
		m, err := pipeline.Parse([]byte(raw))
		if err != nil {
			b.Fatal(err)
		}
		if awaited {
			err = upstream.SendAwaited(ctx, conn, m)
		} else {
			err = conn.Send(ctx, m)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	send(false, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
	<-rec
	send(false, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		send(awaited, `{"jsonrpc":"2.0","id":`+strconv.Itoa(i)+`,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`)
		if m := <-rec; !m.IsResponse() {
			b.Fatalf("got %s", m.Raw)
		}
	}
}

package stdio

import (
	"bufio"
	"context"

	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// BenchmarkMuxCall measures one 2026-07-28 tools/call through a mux (id
// rewritten on the way out, restored on the way back) to a server made of
// pipes that answers every request at once: the mux's own cost per call,
// without a process or its syscalls.
func BenchmarkMuxCall(b *testing.B) {
	f := newFakeProc()
	go answerEveryRequest(f)
	var wg sync.WaitGroup
	m := newMux(f, 1<<20, zap.NewNop(), &wg, nil)
	req, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":"c-17","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},"_meta":{"progressToken":"p-17"}}}`))
	if err != nil {
		b.Fatal(err)
	}
	var answers int
	deliver := func(*pipeline.Message, int) { answers++ }
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := m.call(context.Background(), req, deliver); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if answers != b.N {
		b.Fatalf("%d answers for %d calls", answers, b.N)
	}
	m.close()
	wg.Wait()
}

// answerEveryRequest plays the server: each line it reads is answered with
// a result under the line's id, until the pipes close.
func answerEveryRequest(f *fakeProc) {
	r := bufio.NewReader(f.inR)
	var out []byte
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		id := findMember(line[:len(line)-1], "id")
		out = append(out[:0], `{"jsonrpc":"2.0","id":`...)
		out = append(out, id...)
		out = append(out, `,"result":{"content":[{"type":"text","text":"hello"}]}}`+"\n"...)
		if _, err := f.outW.Write(out); err != nil {
			return
		}
	}
}

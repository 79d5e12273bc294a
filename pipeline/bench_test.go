package pipeline_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// benchRequest is a realistic tools/call request of about 200 bytes.
var benchRequest = []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search_issues","arguments":{"repo":"caddy-mcp/caddy-mcp","query":"is:open label:bug","limit":20},"_meta":{"progressToken":"tok-42"}}}`)

// benchResponse is a tools/call result of about 2 KiB.
var benchResponse = func() []byte {
	text, _ := json.Marshal(strings.Repeat("Issue #123: the upstream closes the stream early. ", 38))
	return []byte(`{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":` + string(text) +
		`}],"structuredContent":{"count":20,"truncated":false},"isError":false}}`)
}()

func BenchmarkParseRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchRequest)))
	for b.Loop() {
		if _, err := pipeline.Parse(benchRequest); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchResponse)))
	for b.Loop() {
		if _, err := pipeline.Parse(benchResponse); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChainEmpty(b *testing.B) {
	b.ReportAllocs()
	m := testRequest(b)
	var c *pipeline.Chain
	ex := &pipeline.Exchange{Direction: pipeline.ToServer}
	ctx := context.Background()
	for b.Loop() {
		if v := c.Run(ctx, ex, m); v.Message != m {
			b.Fatal("message changed")
		}
	}
}

func BenchmarkChainThreeObservers(b *testing.B) {
	b.ReportAllocs()
	m := testRequest(b)
	n := 0
	observe := pipeline.StageFunc(func(_ context.Context, _ *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
		if m.Kind == pipeline.KindRequest {
			n++
		}
		return pipeline.Verdict{}
	})
	c := pipeline.NewChain(observe, observe, observe)
	ctx := context.Background()
	for _, d := range directions {
		b.Run(d.String(), func(b *testing.B) {
			b.ReportAllocs()
			ex := &pipeline.Exchange{Direction: d}
			for b.Loop() {
				if v := c.Run(ctx, ex, m); v.Message != m {
					b.Fatal("message changed")
				}
			}
		})
	}
	if n == 0 {
		b.Fatal("observers did not run")
	}
}

// benchLarge is a tools/call of about 1 MiB: many small objects (files with
// a path and a content), the shape the member check walks.
var benchLarge = func() []byte {
	var b strings.Builder
	b.WriteString(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"write_files","arguments":{"files":[`)
	for i := 0; b.Len() < 1<<20; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"path":"src/pkg/file_` + strings.Repeat("x", i%7) + `.go","mode":420,"content":"` +
			strings.Repeat("package pkg // line of code\\n", 8) + `"}`)
	}
	b.WriteString(`]}}}`)
	return []byte(b.String())
}()

func BenchmarkParseLarge(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLarge)))
	for b.Loop() {
		if _, err := pipeline.Parse(benchLarge); err != nil {
			b.Fatal(err)
		}
	}
}

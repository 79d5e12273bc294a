package pipeline

import (
	"encoding/json"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// threadCPU is the CPU time the calling thread has used. On a machine
// shared with other work it varies much less than the wall clock.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopCPU runs f in b.Loop on one OS thread and reports its CPU time per
// operation (cpu-ns/op) beside the wall-clock ns/op.
func loopCPU(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, n := threadCPU(), 0
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64(threadCPU()-start)/float64(n), "cpu-ns/op")
}

// scanEnvelopeSkipping is the envelope scan as it was before the member
// check: the top-level members only, every value skipped over. It is the
// baseline of BenchmarkMemberScan.
func scanEnvelopeSkipping(raw []byte) envelopeSpans {
	var spans envelopeSpans
	i := skipSpace(raw, 1)
	for i < len(raw) && raw[i] != '}' {
		nameEnd := skipString(raw, i)
		name := raw[i+1 : nameEnd-1]
		i = skipSpace(raw, nameEnd)
		i = skipSpace(raw, i+1)
		valueEnd := skipValue(raw, i)
		if k := envelopeKey(name); k >= 0 {
			spans[k] = raw[i:valueEnd:valueEnd]
		}
		i = skipSpace(raw, valueEnd)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return spans
}

// BenchmarkMemberScan: json.Valid plus the envelope scan, before (skip)
// and after (check) the member check, on a typical tools/call and on a
// 1 MiB one of many small objects; the difference is the check's cost per
// message. Both in one run, so that the machine's load weighs on both.
func BenchmarkMemberScan(b *testing.B) {
	typical := []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search_issues","arguments":{"repo":"caddy-mcp/caddy-mcp","query":"is:open label:bug","limit":20},"_meta":{"progressToken":"tok-42"}}}`)
	var large strings.Builder
	large.WriteString(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"write_files","arguments":{"files":[`)
	for i := 0; large.Len() < 1<<20; i++ {
		if i > 0 {
			large.WriteByte(',')
		}
		large.WriteString(`{"path":"src/pkg/file.go","mode":420,"content":"` + strings.Repeat("package pkg // line of code\\n", 8) + `"}`)
	}
	large.WriteString(`]}}}`)
	for _, msg := range []struct {
		name string
		raw  []byte
	}{{"typical", typical}, {"1MiB", []byte(large.String())}} {
		b.Run(msg.name+"/skip", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg.raw)))
			loopCPU(b, func() {
				if !json.Valid(msg.raw) || scanEnvelopeSkipping(msg.raw)[keyMethod] == nil {
					b.Fatal("bad message")
				}
			})
		})
		b.Run(msg.name+"/check", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg.raw)))
			loopCPU(b, func() {
				spans, err := scanEnvelope(msg.raw, protocolWatch)
				if !json.Valid(msg.raw) || err != nil || spans[keyMethod] == nil {
					b.Fatal("bad message", err)
				}
			})
		})
	}
}

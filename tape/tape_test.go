package tape

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRedaction(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pointers []string
		msg      string
		want     string
	}{
		{"nothing to redact keeps the order and compacts", nil,
			"{\"jsonrpc\":\"2.0\",\n \"id\":1, \"method\":\"tools/call\"}",
			`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`},
		{"a pointer", []string{"/params/arguments/api_key"},
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"api_key":"s3cret","q":"hi"}}}`,
			`{"id":1,"jsonrpc":"2.0","method":"tools/call","params":{"arguments":{"api_key":"[redacted]","q":"hi"},"name":"x"}}`},
		{"a pointer that is absent changes nothing but the order", []string{"/params/arguments/api_key"},
			`{"jsonrpc":"2.0","id":2,"result":{}}`,
			`{"id":2,"jsonrpc":"2.0","result":{}}`},
		{"a wildcard and an array index", []string{"/result/content/*/token", "/params/list/1"},
			`{"jsonrpc":"2.0","id":3,"result":{"content":[{"token":"a"},{"token":"b","x":1}]},"params":{"list":["k","v"]}}`,
			`{"id":3,"jsonrpc":"2.0","params":{"list":["k","[redacted]"]},"result":{"content":[{"token":"[redacted]"},{"token":"[redacted]","x":1}]}}`},
		{"escaped pointer segments", []string{"/params/a~1b/c~0d"},
			`{"params":{"a/b":{"c~d":"x"}}}`,
			`{"params":{"a/b":{"c~d":"[redacted]"}}}`},
		{"Authorization and cookies anywhere, without configuration", nil,
			`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"arguments":{"headers":{"Authorization":"Bearer t","COOKIE":"sid=1","Set-Cookie":"a=b","X":"y"}}}}`,
			`{"id":4,"jsonrpc":"2.0","method":"tools/call","params":{"arguments":{"headers":{"Authorization":"[redacted]","COOKIE":"[redacted]","Set-Cookie":"[redacted]","X":"y"}}}}`},
		// Names are judged decoded, as every JSON reader sees them:
		// escapes and Unicode case folds (the Kelvin sign K folds to k)
		// at any depth.
		{"an escaped name at the top", nil,
			`{"\u0041uthorization":"Bearer t","x":1}`,
			`{"Authorization":"[redacted]","x":1}`},
		{"every letter escaped", nil,
			`{"\u0063\u006F\u006f\u006b\u0069\u0065":"sid=1"}`,
			`{"cookie":"[redacted]"}`},
		{"an escaped name in arguments", nil,
			`{"id":5,"params":{"arguments":{"headers":{"Proxy-\u0041uthorization":"Basic x","X":"y"}}}}`,
			`{"id":5,"params":{"arguments":{"headers":{"Proxy-Authorization":"[redacted]","X":"y"}}}}`},
		{"an escaped name in an array in a result", nil,
			`{"id":6,"result":{"content":[{"a":1},{"meta":{"set-\u0063ookie":"a=b"}}]}}`,
			`{"id":6,"result":{"content":[{"a":1},{"meta":{"set-cookie":"[redacted]"}}]}}`},
		{"an escaped Kelvin sign", nil,
			`{"h":{"coo\u212aie":"sid=1"}}`,
			`{"h":{"cooKie":"[redacted]"}}`},
		{"a raw Kelvin sign", nil,
			"{\"h\":[{\"cooKie\":\"sid=1\"}]}",
			`{"h":[{"cooKie":"[redacted]"}]}`},
		{"a pointer matches an escaped name", []string{"/params/arguments/api_key"},
			`{"params":{"arguments":{"api\u005fkey":"s3cret"}}}`,
			`{"params":{"arguments":{"api_key":"[redacted]"}}}`},
		{"a pointer matches every case fold of a name", []string{"/params/arguments/api_key"},
			`{"params":{"Arguments":{"API_KEY":"a","Api_Key":"b","q":"c"}}}`,
			`{"params":{"Arguments":{"API_KEY":"[redacted]","Api_Key":"[redacted]","q":"c"}}}`},
		{"numbers keep their form, HTML characters stay", []string{"/x"},
			`{"x":1,"n":12345678901234567890,"s":"<a&b>"}`,
			`{"n":12345678901234567890,"s":"<a&b>","x":"[redacted]"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRedactor(tc.pointers)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Apply([]byte(tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRedactorRejectsBadPointers(t *testing.T) {
	_, err := NewRedactor([]string{"/ok", "params/x", ""})
	if err == nil || !strings.Contains(err.Error(), `"params/x" is not a JSON pointer`) {
		t.Fatalf("want an error naming the bad pointer, got %v", err)
	}
}

// TestWriterRedactsOnDisk: a credential in a message never reaches the file.
func TestWriterRedactsOnDisk(t *testing.T) {
	dir := t.TempDir()
	red, _ := NewRedactor([]string{"/params/arguments/api_key"})
	w := NewWriter(WriterOptions{Dir: dir, Redactor: red})
	tp := NewTape(Header{Endpoint: "e", Upstream: "u", Session: "abcdef0123456789", Start: time.Unix(1800000000, 0)})
	w.Write(tp, Record{Dir: ClientToServer, Msg: json.RawMessage(
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"api_key":"s3cret-value","headers":{"authorization":"Bearer tok-value"}}}}`)})
	w.Close()
	b, err := os.ReadFile(filepath.Join(dir, FileName(tp.Base, 0)))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret-value", "tok-value"} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the tape holds %q:\n%s", secret, b)
		}
	}
	fi, _ := os.Stat(filepath.Join(dir, FileName(tp.Base, 0)))
	if fi.Mode().Perm() != FileMode {
		t.Errorf("tape file mode %v, want %v", fi.Mode().Perm(), FileMode)
	}
}

func msgN(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"%s"}}}`, i, strings.Repeat("x", 100)))
}

// TestRotation: past max_size a tape continues in numbered files, each
// with a header, no line split; the reader takes them as one tape.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(WriterOptions{Dir: dir, MaxSize: 1000})
	tp := NewTape(Header{Endpoint: "e", Session: "0123456789abcdef", Start: time.Unix(1800000000, 0)})
	const n = 40
	for i := range n {
		if !w.Write(tp, Record{OffsetMicros: int64(i), Dir: ClientToServer, Msg: msgN(i)}) {
			t.Fatalf("record %d dropped", i)
		}
	}
	w.Close()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(paths) < 5 {
		t.Fatalf("want the tape rotated into several files, got %v", paths)
	}
	for _, p := range paths {
		fi, _ := os.Stat(p)
		if fi.Size() > 1000 {
			t.Errorf("%s is %d bytes, above max_size", p, fi.Size())
		}
		b, _ := os.ReadFile(p)
		if !bytes.HasPrefix(b, []byte(`{"tape":1`)) {
			t.Errorf("%s does not start with a header", p)
		}
	}
	listed, err := List(dir)
	if err != nil || len(listed) != 1 {
		t.Fatalf("List: %v %v, want the one tape", listed, err)
	}
	f, err := ReadFile(listed[0])
	if err != nil {
		t.Fatal(err)
	}
	if f.Parts != len(paths) || len(f.Records) != n || f.Truncated {
		t.Fatalf("read %d parts, %d records, truncated %v; want %d, %d, false", f.Parts, len(f.Records), f.Truncated, len(paths), n)
	}
	for i, r := range f.Records {
		if r.OffsetMicros != int64(i) {
			t.Fatalf("record %d is out of order: t_us %d", i, r.OffsetMicros)
		}
	}
	if f.Header.Endpoint != "e" || f.Header.Part != 0 {
		t.Errorf("header %+v", f.Header)
	}
}

// blockingDisk is a fault injection: every write blocks until release.
type blockingDisk struct {
	release chan struct{}
	mu      sync.Mutex
	lines   int
}

func (d *blockingDisk) Write(p []byte) (int, error) {
	<-d.release
	d.mu.Lock()
	d.lines += bytes.Count(p, []byte("\n"))
	d.mu.Unlock()
	return len(p), nil
}
func (d *blockingDisk) Close() error { return nil }

// TestWriterNeverBlocksOnASlowDisk: with the disk stuck, Write returns for
// every record; what does not fit the queue is dropped and counted; the
// rest is written once the disk moves.
func TestWriterNeverBlocksOnASlowDisk(t *testing.T) {
	disk := &blockingDisk{release: make(chan struct{})}
	const queue, total = 8, 1000
	w := NewWriter(WriterOptions{Dir: t.TempDir(), QueueLen: queue,
		Open: func(string) (io.WriteCloser, error) { return disk, nil }})
	tp := NewTape(Header{Session: "s"})
	done := make(chan int)
	go func() {
		accepted := 0
		for i := range total {
			if w.Write(tp, Record{Dir: ClientToServer, Msg: msgN(i)}) {
				accepted++
			}
		}
		done <- accepted
	}()
	var accepted int
	select {
	case accepted = <-done:
	case <-time.After(10 * time.Second):
		close(disk.release)
		w.Close()
		t.Fatal("Write blocked behind a stuck disk")
	}
	// Beyond the queue, the writer goroutine holds at most one batch (the
	// one its blocked write carries).
	if accepted > queue+maxBatch || w.Dropped() != uint64(total-accepted) {
		t.Fatalf("accepted %d, dropped %d of %d with a queue of %d", accepted, w.Dropped(), total, queue)
	}
	close(disk.release)
	w.Close()
	if disk.lines != accepted+1 { // + the header
		t.Fatalf("%d lines written, want %d records + the header", disk.lines, accepted)
	}
}

// TestCrashLeavesAReadableTape: a last line cut short by a crash is
// ignored; every complete line before it is read.
func TestCrashLeavesAReadableTape(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(WriterOptions{Dir: dir})
	tp := NewTape(Header{Session: "feedfacefeedface", Start: time.Unix(1800000000, 0)})
	for i := range 3 {
		w.Write(tp, Record{Dir: ServerToClient, Msg: msgN(i)})
	}
	w.Close()
	path := filepath.Join(dir, FileName(tp.Base, 0))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"t_us":5,"dir":"s2c","msg":{"jsonrpc":"2.0","id":9,"res`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := ReadFile(path)
	if err != nil {
		t.Fatalf("a truncated tape must read: %v", err)
	}
	if len(got.Records) != 3 || !got.Truncated {
		t.Fatalf("read %d records, truncated %v; want 3, true", len(got.Records), got.Truncated)
	}
}

func TestReaderErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"empty", "", "no header line"},
		{"no header", `{"t_us":1,"dir":"c2s","msg":{}}` + "\n", "not a tape header"},
		{"newer version", `{"tape":2}` + "\n", "format version 2 is newer"},
		{"bad record", `{"tape":1}` + "\nnot json\n", "line 2: not a tape record"},
		{"bad dir", `{"tape":1}` + "\n" + `{"dir":"up","msg":{}}` + "\n", `line 2: "dir" must be`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := Read(strings.NewReader(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestSplitName(t *testing.T) {
	for _, tc := range []struct {
		name string
		base string
		part int
		ok   bool
	}{
		{"a.jsonl", "a", 0, true},
		{"a.3.jsonl", "a", 3, true},
		{"20261202T015434Z-abc.12.jsonl", "20261202T015434Z-abc", 12, true},
		{"a.03.jsonl", "a.03", 0, true},
		{"a.txt", "", 0, false},
	} {
		base, part, ok := SplitName(tc.name)
		if base != tc.base || part != tc.part || ok != tc.ok {
			t.Errorf("SplitName(%q) = %q %d %v", tc.name, base, part, ok)
		}
	}
}

// BenchmarkRedactNothingToRedact is the redaction check of a message that
// holds no credential-like name: what every recorded message without
// redact pointers pays.
func BenchmarkRedactNothingToRedact(b *testing.B) {
	msg := []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search_issues","arguments":{"repo":"caddy-mcp/caddy-mcp","query":"is:open label:bug","limit":20},"_meta":{"progressToken":"tok-42"}}}`)
	var r *Redactor
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Apply(msg); err != nil {
			b.Fatal(err)
		}
	}
}

package tape

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults of WriterOptions.
const (
	// DefaultQueueLen bounds the records waiting for the disk. At a few
	// hundred bytes a record that is a few MiB at most; a full queue drops
	// records (counted, logged), never slows a session.
	DefaultQueueLen = 4096
	// DefaultMaxOpen bounds the tape files held open at once; the least
	// recently written is closed (and reopened for appending when its
	// session goes on).
	DefaultMaxOpen = 64
)

// FileMode is the permission of every tape file: tapes hold what clients
// and servers said, so only the account Caddy runs as may read them.
const FileMode os.FileMode = 0o600

// WriterOptions configure a Writer.
type WriterOptions struct {
	// Dir is the directory the tapes go into. It must exist.
	Dir string
	// MaxSize is the size in bytes after which a tape continues in a new,
	// numbered file (0: no rotation). A line is never split across files.
	MaxSize int64
	// QueueLen bounds the records waiting to be written (DefaultQueueLen).
	QueueLen int
	// MaxOpen bounds the files held open at once (DefaultMaxOpen).
	MaxOpen int
	// Redactor is applied to every message before it is written (nil: only
	// credential-like members are removed).
	Redactor *Redactor
	// Open opens a tape file for appending; nil opens it on disk with
	// FileMode. Tests use it to inject a disk that blocks.
	Open func(path string) (io.WriteCloser, error)
	// Logger receives dropped-record and write-error reports.
	Logger *zap.Logger
}

// Tape identifies one tape being written: its file name base and header.
// It is immutable once given to Writer.Write.
type Tape struct {
	// Base is the file name without ".jsonl" (see FileName).
	Base string
	// Header is written at the top of each of its files.
	Header Header
}

// NewTape names a tape after its start time and session hash, e.g.
// 20261202T015434Z-3f9a1c2d0b7e. The name carries nothing secret.
func NewTape(h Header) *Tape {
	h.Tape = FormatVersion
	base := h.Start.UTC().Format("20060102T150405Z")
	if s := h.Session; s != "" {
		base += "-" + s[:min(len(s), 12)]
	}
	return &Tape{Base: base, Header: h}
}

// FileName is the name of part n of the tape with the given base: the
// first file is base.jsonl, continuations base.1.jsonl, base.2.jsonl, …
func FileName(base string, part int) string {
	if part == 0 {
		return base + ".jsonl"
	}
	return base + "." + strconv.Itoa(part) + ".jsonl"
}

// item is one queued request to the writer goroutine.
type item struct {
	tape *Tape
	rec  Record // Msg and Pipeline.Original not yet redacted
	end  bool   // close the tape's file instead of writing
}

// Writer writes tapes on a goroutine of its own, so that a session never
// waits for the disk: Write only enqueues, and a full queue drops the
// record (counted by Dropped, logged at most once a second). A line is
// never split across write calls: the writer takes what is queued (up to
// maxBatch records) and writes each file's complete lines in one call, so a
// crash leaves at most an unterminated last line. Files are not fsynced per
// write (the OS page cache keeps what a crash of Caddy alone would lose;
// a crash of the machine may lose the last seconds), but synced when
// closed: at rotation, eviction, End and Close.
type Writer struct {
	opts    WriterOptions
	queue   chan item
	closing chan struct{}
	done    chan struct{}
	once    sync.Once

	dropped   atomic.Uint64
	failed    atomic.Uint64
	lastWarn  atomic.Int64 // unix nanos of the last dropped-record log
	openFiles map[string]*openFile
	uses      uint64
}

type openFile struct {
	w       io.WriteCloser
	size    int64 // including pending
	part    int
	lastUse uint64
	pending []byte // complete lines not written yet (flush)
	records int    // records in pending
}

// maxBatch bounds the records the writer takes off the queue before it
// writes: under load, one write carries many complete lines.
const maxBatch = 256

// NewWriter starts a Writer; Close stops it.
func NewWriter(opts WriterOptions) *Writer {
	if opts.QueueLen <= 0 {
		opts.QueueLen = DefaultQueueLen
	}
	if opts.MaxOpen <= 0 {
		opts.MaxOpen = DefaultMaxOpen
	}
	if opts.Open == nil {
		opts.Open = func(path string) (io.WriteCloser, error) {
			return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, FileMode)
		}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	w := &Writer{
		opts:      opts,
		queue:     make(chan item, opts.QueueLen),
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
		openFiles: make(map[string]*openFile),
	}
	go w.run()
	return w
}

// Write queues one record of t. It never blocks: it returns false when the
// record was dropped (the queue is full, or the Writer is closed). rec.Msg
// (and rec.Pipeline.Original) must not change afterwards.
func (w *Writer) Write(t *Tape, rec Record) bool {
	return w.enqueue(item{tape: t, rec: rec})
}

// End closes t's file once what was queued before is written (a later
// Write reopens it for appending).
func (w *Writer) End(t *Tape) {
	w.enqueue(item{tape: t, end: true})
}

func (w *Writer) enqueue(it item) bool {
	select {
	case <-w.closing:
		return false
	default:
	}
	select {
	case w.queue <- it:
		return true
	default:
	}
	if !it.end {
		n := w.dropped.Add(1)
		if n != 1 && n%1024 != 0 {
			return false // the clock is read for every 1024th drop only: a full queue is when time is short
		}
		now := time.Now().UnixNano()
		if last := w.lastWarn.Load(); now-last > int64(time.Second) && w.lastWarn.CompareAndSwap(last, now) {
			w.opts.Logger.Warn("tape queue full: dropping records (the disk is slower than the traffic)",
				zap.String("tape", FileName(it.tape.Base, 0)), zap.Uint64("dropped_total", n))
		}
	}
	return false
}

// Dropped returns how many records were dropped because the queue was full.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Failed returns how many records could not be written (a write error).
func (w *Writer) Failed() uint64 { return w.failed.Load() }

// Close writes what is queued, closes every file and stops the writer
// goroutine, waiting for it. Writes after Close are dropped.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.closing) })
	<-w.done
}

func (w *Writer) run() {
	defer close(w.done)
	for {
		select {
		case it := <-w.queue:
			w.handle(it)
			w.drain(maxBatch - 1)
			w.flushAll()
		case <-w.closing:
			for w.drain(maxBatch) {
				w.flushAll()
			}
			for base, f := range w.openFiles {
				w.closeFile(base, f)
			}
			return
		}
	}
}

// drain handles up to n more queued items without waiting; it reports
// whether it found any.
func (w *Writer) drain(n int) bool {
	for i := range n {
		select {
		case it := <-w.queue:
			w.handle(it)
		default:
			return i > 0
		}
	}
	return true
}

// flushAll writes every file's pending lines, one write call per file.
func (w *Writer) flushAll() {
	for base, f := range w.openFiles {
		if err := w.flush(f); err != nil {
			w.opts.Logger.Error("tape: writing records failed", zap.String("tape", FileName(base, f.part)), zap.Error(err))
			w.closeFile(base, f)
		}
	}
}

// flush writes f's pending lines in one call: a crash leaves at most an
// unterminated last line, which readers ignore.
func (w *Writer) flush(f *openFile) error {
	if len(f.pending) == 0 {
		return nil
	}
	n, err := f.w.Write(f.pending)
	if err == nil && n < len(f.pending) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.failed.Add(uint64(f.records))
		f.size -= int64(len(f.pending) - n)
	}
	f.pending, f.records = f.pending[:0], 0
	return err
}

func (w *Writer) handle(it item) {
	base := it.tape.Base
	if it.end {
		if f := w.openFiles[base]; f != nil {
			w.closeFile(base, f)
		}
		return
	}
	line, err := w.encode(it.rec)
	if err != nil {
		w.failed.Add(1)
		w.opts.Logger.Error("tape: a message could not be encoded; the record is skipped",
			zap.String("tape", FileName(base, 0)), zap.Error(err))
		return
	}
	f, err := w.file(it.tape)
	if err == nil && w.opts.MaxSize > 0 && f.size > 0 && f.size+int64(len(line)) > w.opts.MaxSize {
		f, err = w.rotate(it.tape, f)
	}
	if err != nil {
		w.failed.Add(1)
		w.opts.Logger.Error("tape: opening a tape file failed", zap.String("tape", FileName(base, 0)), zap.Error(err))
		if f := w.openFiles[base]; f != nil {
			w.closeFile(base, f)
		}
		return
	}
	w.addLine(f, line)
	f.records++
}

// file returns the open file of t, opening (or reopening) its last part.
func (w *Writer) file(t *Tape) (*openFile, error) {
	w.uses++
	if f := w.openFiles[t.Base]; f != nil {
		f.lastUse = w.uses
		return f, nil
	}
	if len(w.openFiles) >= w.opts.MaxOpen {
		w.evictOldest()
	}
	part, size := w.lastPart(t.Base)
	return w.openPart(t, part, size)
}

// lastPart finds the last existing part of a tape written before (by this
// Writer before an eviction, or by the one of the previous configuration)
// and its size; a tape not on disk yet is part 0, size 0.
func (w *Writer) lastPart(base string) (part int, size int64) {
	for p := 0; ; p++ {
		fi, err := os.Stat(filepath.Join(w.opts.Dir, FileName(base, p)))
		if err != nil {
			return max(p-1, 0), size
		}
		size = fi.Size()
	}
}

func (w *Writer) openPart(t *Tape, part int, size int64) (*openFile, error) {
	fw, err := w.opts.Open(filepath.Join(w.opts.Dir, FileName(t.Base, part)))
	if err != nil {
		return nil, err
	}
	f := &openFile{w: fw, size: size, part: part, lastUse: w.uses}
	w.openFiles[t.Base] = f
	if size == 0 {
		h := t.Header
		h.Part = part
		b, err := json.Marshal(h)
		if err != nil {
			return nil, err
		}
		w.addLine(f, append(b, '\n'))
	}
	return f, nil
}

func (w *Writer) rotate(t *Tape, f *openFile) (*openFile, error) {
	next := f.part + 1
	w.closeFile(t.Base, f)
	return w.openPart(t, next, 0)
}

// addLine queues one complete line for f's next write.
func (w *Writer) addLine(f *openFile, line []byte) {
	f.pending = append(f.pending, line...)
	f.size += int64(len(line))
}

func (w *Writer) evictOldest() {
	var (
		oldest string
		of     *openFile
	)
	for base, f := range w.openFiles {
		if of == nil || f.lastUse < of.lastUse {
			oldest, of = base, f
		}
	}
	if of != nil {
		w.closeFile(oldest, of)
	}
}

func (w *Writer) closeFile(base string, f *openFile) {
	delete(w.openFiles, base)
	if err := w.flush(f); err != nil {
		w.opts.Logger.Error("tape: writing records failed", zap.String("tape", FileName(base, f.part)), zap.Error(err))
	}
	if s, ok := f.w.(interface{ Sync() error }); ok {
		_ = s.Sync()
	}
	if err := f.w.Close(); err != nil {
		w.opts.Logger.Warn("tape: closing a file failed", zap.String("tape", FileName(base, f.part)), zap.Error(err))
	}
}

// encode renders a record as one line: redacted, on one line,
// newline-terminated. It is built by hand rather than by encoding/json,
// which would validate and compact the message a second time.
func (w *Writer) encode(rec Record) ([]byte, error) {
	msg, err := w.opts.Redactor.Apply(rec.Msg)
	if err != nil {
		return nil, err
	}
	out := rec.Pipeline
	if out.Original != nil {
		if out.Original, err = w.opts.Redactor.Apply(out.Original); err != nil {
			return nil, err
		}
	}
	if out.Action == "" {
		out.Action = Passed
	}
	var outcome []byte
	if out.Action == Passed && out.Stage == "" && out.Original == nil && out.Ended == "" && !out.Cached {
		outcome = passedOutcome
	} else {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // keep <, > and & in messages as they were
		if err := enc.Encode(&out); err != nil {
			return nil, err
		}
		outcome = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	line := make([]byte, 0, len(msg)+len(outcome)+64)
	line = append(line, `{"t_us":`...)
	line = strconv.AppendInt(line, rec.OffsetMicros, 10)
	line = append(line, `,"dir":`...)
	line = strconv.AppendQuote(line, rec.Dir) // c2s or s2c: plain ASCII
	if rec.Stream != "" {
		line = append(line, `,"stream":`...)
		line = strconv.AppendQuote(line, rec.Stream)
	}
	if rec.Server != "" {
		line = append(line, `,"server":`...)
		line = strconv.AppendQuote(line, rec.Server) // a server name: [A-Za-z0-9-]
	}
	line = append(line, `,"msg":`...)
	line = append(line, msg...)
	line = append(line, `,"pipeline":`...)
	line = append(line, outcome...)
	return append(line, '}', '\n'), nil
}

var passedOutcome = []byte(`{"action":"passed"}`)

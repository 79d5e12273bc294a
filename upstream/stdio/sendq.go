package stdio

import (
	"bytes"
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Send writes m to the process's stdin, or queues it for writeLoop. A
// message with nothing ahead of it that the pipe takes whole is written on
// the caller's goroutine, without waiting (pool.TryWriteStdin): most are,
// and that spares a goroutine switch per message. Anything that would
// wait, or the rest of a short write, goes to writeLoop, so that no caller
// blocks on a full pipe; a full queue blocks senders (back-pressure to the
// client) until there is room, the connection ends or ctx is done.
func (c *stdioConn) Send(ctx context.Context, m *pipeline.Message) error {
	select {
	case <-c.done:
		return upstream.ErrClosed
	default:
	}
	raw, err := oneLine(m.Raw)
	if err != nil {
		return err
	}
	for waited := false; ; waited = true {
		if c.offer(raw) {
			if waited {
				c.signalRoom() // pass the room on to the next waiting sender
			}
			return nil
		}
		select {
		case <-c.room:
		case <-c.done:
			return upstream.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// offer writes raw plus its newline at once when no line waits ahead of
// it, and queues what the pipe did not take. It reports false, raw left
// alone, when the queue is full. The write under wmu never waits for the
// pipe: it is one non-blocking write(2), which keeps the lines in order
// without a lock held across blocking I/O.
func (c *stdioConn) offer(raw []byte) bool {
	c.wmu.Lock()
	if len(c.pending) >= sendQueueLen {
		c.wmu.Unlock()
		return false
	}
	var rest []byte
	if len(c.pending) == 0 && !c.writing {
		c.line = append(append(c.line[:0], raw...), '\n')
		n, err := c.proc.TryWriteStdin(c.line)
		if err != nil && !errors.Is(err, pool.ErrWouldWait) {
			c.wmu.Unlock()
			c.writeFailed(err)
			return true // accepted: the connection's end reports the loss
		}
		if n == len(c.line) {
			c.wmu.Unlock()
			return true
		}
		rest = bytes.Clone(c.line[n:])
	} else {
		rest = append(raw[:len(raw):len(raw)], '\n')
	}
	c.pending = append(c.pending, rest)
	c.wmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// signalRoom tells one sender waiting on a full queue to try again.
func (c *stdioConn) signalRoom() {
	select {
	case c.room <- struct{}{}:
	default:
	}
}

// writeFailed ends the connection after a failed write to stdin.
func (c *stdioConn) writeFailed(err error) {
	c.logger.Debug("writing to server stdin failed", zap.Error(err))
	c.end()
}

// writeLoop writes the queued lines, in order, to stdin. Writing happens
// here, not in Send, whenever it may wait: no caller blocks on a full pipe.
func (c *stdioConn) writeLoop() {
	w := c.proc.Stdin()
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		for {
			line := c.nextLine()
			if line == nil {
				break
			}
			if _, err := w.Write(line); err != nil {
				c.writeFailed(err)
				return
			}
		}
	}
}

// nextLine takes the first queued line, marking it being written until the
// next call; nil when none is left.
func (c *stdioConn) nextLine() []byte {
	c.wmu.Lock()
	c.writing = false
	if len(c.pending) == 0 {
		c.pending = c.pending[:0]
		c.wmu.Unlock()
		return nil
	}
	line := c.pending[0]
	c.pending[0] = nil
	c.pending = c.pending[1:]
	c.writing = true
	c.wmu.Unlock()
	c.signalRoom()
	return line
}

// Package pool is the stdio subprocess pool: it spawns MCP servers that speak
// over stdin/stdout, keeps warm spares ready, reaps every child and shuts them
// down cleanly.
//
// # Lifecycle
//
// New validates a Config and spawns nothing, so `caddy validate` (which
// provisions but never starts apps) cannot start servers. Start begins keeping
// Config.Warm spares. Acquire hands out a started process that no session has
// talked to yet — spares are never initialized, because `initialize` carries
// the client's capabilities; with Config.Ready a new spare is first checked
// (the MCP upstream pings it) and preferred once it answered (ready.go). A
// taken spare is replaced once it answered its session (settle.go). Release
// ends a session: the pool runs the stop sequence in the background and frees
// the slot once the child is reaped.
// Close stops accepting Acquire and stops the spares; processes still assigned
// keep running until released. Wait blocks until every child is reaped and
// every goroutine of the pool has returned.
//
// SetLimits changes the sizes and timeouts of a running pool (limits.go), so
// a configuration reload that only tunes them keeps every process. A full
// pool may ask the caller of Acquire to give a process back (WithReclaim,
// reclaim.go).
//
// # Ownership
//
// Every goroutine belongs to the pool and is counted by Wait: one waiter per
// process (the only caller of exec.Cmd.Wait), one stderr reader per process,
// one stop sequence per stopped process, and the spare keeper. The one
// exception is the package's spawner on Linux (sys_linux.go): every child is
// forked from one goroutine locked to its OS thread, so the parent-death
// signal fires when Caddy dies and not when a thread is retired; it lives as
// long as the process by design (SpawnerFunction names it for leak checks).
//
// The pool creates all three pipes with os.Pipe and closes the child's ends
// right after the child started, so exec.Cmd never copies data and its Wait
// never races a reader. The parent's ends are closed as follows:
//   - stdin (write end): closed by the stop sequence (that is its first step)
//     and, at the latest, when the child has been reaped. The session may close
//     it earlier itself.
//   - stderr (read end): closed by the waiter once the stderr reader reached
//     EOF (or, if a process that escaped the group still holds the pipe, after
//     StopTimeout).
//   - stdout (read end): closed only when the child has been reaped AND the
//     session released it, so a session reading stdout sees the child's last
//     bytes and then a natural EOF. A spare's stdout is closed when it is reaped.
//
// # Processes die cleanly
//
// Each child runs in its own process group (Setpgid) and signals go to the
// group. On Linux it also gets SIGKILL as its parent-death signal, so a
// Caddy killed with SIGKILL leaves no direct child running (grandchildren,
// such as the node that npx starts, are reached only by a normal stop). The stop sequence is: close stdin, wait StopTimeout, SIGTERM the
// group, wait StopTimeout, SIGKILL the group, reap. After the leader exits the
// group is SIGKILLed once more so grandchildren (npx → node) do not linger.
//
// The package has no other dependency than the standard library and zap, and
// imports nothing of this project.
package pool

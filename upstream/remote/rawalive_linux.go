package remote

import "syscall"

// peekable reports, for a connection it can ask (sys, its descriptor, is
// set), whether the server has neither closed it nor sent anything on it
// since its last response: a peek that does not wait, one system call.
// asked is false for a connection it cannot ask.
func peekable(sys syscall.RawConn) (alive, asked bool) {
	if sys == nil {
		return false, false
	}
	var b [1]byte
	err := sys.Read(func(fd uintptr) bool {
		_, _, perr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = perr == syscall.EAGAIN || perr == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && alive, true
}

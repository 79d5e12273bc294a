//go:build !linux

package remote

import "syscall"

// peekable cannot ask a connection here (see rawalive_linux.go).
func peekable(syscall.RawConn) (alive, asked bool) { return false, false }

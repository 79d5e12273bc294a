//go:build !linux

package main

import "syscall"

// procAttr puts a child in its own process group: a Ctrl-C on the terminal
// reaches only the benchmark, which then stops its children in order.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

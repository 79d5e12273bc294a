package main

import "syscall"

// procAttr puts a child in its own process group: a Ctrl-C on the terminal
// reaches only the benchmark, which then stops its children in order. And
// if the benchmark itself is killed, its direct children get SIGKILL
// (their own children then see stdin EOF and exit).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is where the machine's CPU time stood at one moment: the
// process the clients talk to (the front), the benchmark itself (the load
// generator) and every core's busy time.
type cpuSample struct {
	front, self, machine time.Duration
	mallocs              uint64 // heap objects the front (a Caddy) allocated so far; 0: unknown
}

// cpuMeter samples the CPU time of the front process, this process and the
// whole machine.
type cpuMeter struct {
	frontPID int
	admin    string // the front's Caddy admin address, for its allocation count; "" when not a Caddy
}

func (m cpuMeter) sample() cpuSample {
	return cpuSample{front: cpuTime(m.frontPID), self: selfCPU(), machine: machineBusy(), mallocs: mallocs(m.admin)}
}

// cpuSplit is the CPU time spent over a window, by whom.
type cpuSplit struct {
	Front, Load, Rest time.Duration // Rest: the machine's busy time less the other two
	Mallocs           uint64        // heap objects the front allocated; 0: unknown
}

func (a cpuSample) to(b cpuSample) cpuSplit {
	s := cpuSplit{Front: b.front - a.front, Load: b.self - a.self}
	s.Rest = max(0, b.machine-a.machine-s.Front-s.Load)
	if a.mallocs > 0 && b.mallocs > a.mallocs {
		s.Mallocs = b.mallocs - a.mallocs
	}
	return s
}

func (s *cpuSplit) add(o cpuSplit) {
	s.Front += o.Front
	s.Load += o.Load
	s.Rest += o.Rest
	s.Mallocs += o.Mallocs
}

// selfCPU is this process's user and system time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the busy time of all cores together from /proc/stat:
// everything but idle and iowait (guest time is already in user; steal is
// time the hypervisor gave to others).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy uint64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		n, _ := strconv.ParseUint(v, 10, 64)
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * (time.Second / 100)
}

package bench

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// CPU time, the figure a noisy host cannot move much: on a shared
// two-core machine a run's latencies change twofold from one half hour to
// the next, while the CPU time a node spends per event moves with the
// code. A phase's Counters say how many cores each part of the run kept
// busy: the nodes (from their own process_cpu_seconds_total), the
// PostgreSQL server, and the load generator (this process). The last two
// are read from /proc, so only on Linux, and the server's only when it
// runs on this machine: it is the postmaster that served bench's own
// connection, with every process it started.

// clockTick is the unit of /proc's CPU times (USER_HZ), which Linux fixes
// at 100 a second whatever the kernel's own tick.
const clockTick = 10 * time.Millisecond

// procStat returns the parent and the CPU time (user and system) of
// process pid, from /proc/pid/stat.
func procStat(pid int) (parent int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	// state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	utime, err2 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err3 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return ppid, time.Duration(utime+stime) * clockTick, true
}

// loadCPU is the CPU time this process (the load generator) has used.
func loadCPU() (time.Duration, bool) {
	_, cpu, ok := procStat(os.Getpid())
	return cpu, ok
}

// postmasterOf returns the PostgreSQL server process that started backend,
// a server process serving one of bench's connections, or 0 when it is not
// a process of this machine.
func postmasterOf(backend int) int {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(backend) + "/comm")
	if err != nil || !bytes.HasPrefix(comm, []byte("postgres")) {
		return 0
	}
	parent, _, ok := procStat(backend)
	if !ok {
		return 0
	}
	return parent
}

// serverCPU is the CPU time used so far by the postmaster and the
// processes it started that are still running: its backends (the nodes'
// connections stay open through a phase), the WAL writer, the
// checkpointer.
func serverCPU(postmaster int) (time.Duration, bool) {
	_, total, ok := procStat(postmaster)
	if !ok {
		return 0, false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parent, cpu, ok := procStat(pid); ok && parent == postmaster {
			total += cpu
		}
	}
	return total, true
}

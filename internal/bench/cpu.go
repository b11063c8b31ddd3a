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
// runs on this machine, in the same PID namespace: it is the parent of
// the backend that served bench's own connection (the postmaster), with
// every process it started.

// clockTick is the unit of /proc's CPU times (USER_HZ), which Linux fixes
// at 100 a second whatever the kernel's own tick.
const clockTick = 10 * time.Millisecond

// procStat returns the parent, the CPU time (user and system) of process
// pid, and that of its children it has waited for, from /proc/pid/stat.
func procStat(pid int) (parent int, cpu, reaped time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	// state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
	if len(f) < 15 {
		return 0, 0, 0, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return 0, 0, 0, false
	}
	var ticks [4]int64
	for j := range ticks {
		if ticks[j], err = strconv.ParseInt(string(f[11+j]), 10, 64); err != nil {
			return 0, 0, 0, false
		}
	}
	return ppid, time.Duration(ticks[0]+ticks[1]) * clockTick, time.Duration(ticks[2]+ticks[3]) * clockTick, true
}

// loadCPU is the CPU time this process (the load generator) has used.
func loadCPU() (time.Duration, bool) {
	_, cpu, _, ok := procStat(os.Getpid())
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
	parent, _, _, ok := procStat(backend)
	if !ok {
		return 0
	}
	return parent
}

// serverCPU is the CPU time used so far by the postmaster and every
// process it started: those still running (backends, the WAL writer, the
// checkpointer) and those it has reaped (an autovacuum worker, a
// connection closed), whose time the kernel adds to the postmaster's.
func serverCPU(postmaster int) (time.Duration, bool) {
	_, own, reaped, ok := procStat(postmaster)
	if !ok {
		return 0, false
	}
	total := own + reaped
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parent, cpu, _, ok := procStat(pid); ok && parent == postmaster {
			total += cpu
		}
	}
	return total, true
}

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServeDebug serves the Go profiler and the process's memory figures on
// their own listener, which should be reachable by operators only
// (loopback or a private interface). It carries no customer data: profiles
// hold code paths and counts, never payloads.
//
// /debug/pprof/mutex?seconds=N samples contention on Go mutexes, one in
// mutexSampling, for those N seconds only: a small lock that convoys (a
// waiter past 1 ms puts a sync.Mutex in starvation mode, and every unlock
// then yields its core) showed first as scheduler wait in a trace
// (BENCHMARKS.md). The sampling costs a stack trace a sample, so it is
// never on while nobody asks: benchmarks start every node with this
// listener.
func ServeDebug(addr string, log *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/mutex", mutexProfile)
	mux.HandleFunc("GET /debug/memory", memory)
	return serveOperator(addr, "debug listener", mux, log)
}

// mutexSampling is the share of contended Go mutexes that a mutex profile
// records while one is asked for: one in this many.
const mutexSampling = 20

var mutexSampled struct {
	sync.Mutex
	asking int // requests for a mutex profile under way
}

// mutexProfile serves the mutex profile; asked for some seconds, it
// samples contention while they last. Overlapping requests share the
// sampling, and the last to finish turns it off.
func mutexProfile(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("seconds") != "" {
		mutexSampled.Lock()
		if mutexSampled.asking++; mutexSampled.asking == 1 {
			runtime.SetMutexProfileFraction(mutexSampling)
		}
		mutexSampled.Unlock()
		defer func() {
			mutexSampled.Lock()
			if mutexSampled.asking--; mutexSampled.asking == 0 {
				runtime.SetMutexProfileFraction(0)
			}
			mutexSampled.Unlock()
		}()
	}
	pprof.Handler("mutex").ServeHTTP(w, r)
}

// serveOperator serves h on a listener of its own at addr, for operators
// only, until stop is called.
func serveOperator(addr, what string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: %s: %w", what, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info(what, "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// Memory is what GET /debug/memory reports, in bytes.
type Memory struct {
	RSS        int64 `json:"rss"` // resident set, from /proc/self/status
	HeapInuse  int64 `json:"heap_inuse"`
	StackInuse int64 `json:"stack_inuse"`
	HeapAlloc  int64 `json:"heap_alloc"` // live objects (after a collection: live)
	Goroutines int   `json:"goroutines"`
}

// memory serves GET /debug/memory; with ?gc=1 it first collects garbage and
// returns what it can to the operating system, so that the figures are
// what the process holds, not what it has not yet given back.
func memory(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		runtime.GC()
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, _ := ProcessMemory("self")
	m := Memory{RSS: rss, HeapInuse: int64(ms.HeapInuse), StackInuse: int64(ms.StackInuse), HeapAlloc: int64(ms.HeapAlloc), Goroutines: runtime.NumGoroutine()}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(m)
}

// ProcessMemory reads a process's resident set and its peak, in bytes, from
// /proc/<pid>/status ("self" for this one); zeros where there is none.
func ProcessMemory(pid string) (rss, peak int64) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

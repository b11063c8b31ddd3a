package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Counters is what the nodes counted during one timed phase, from their
// /metrics read just before it and after it has drained, summed over the
// nodes: requests for a pooled database connection, how many found none
// idle and how long those waited on average (PostgreSQL; 0 on SQLite,
// which has no pool), how often the garbage collector ran, and how the
// store's group-commit writer fared: its groups, their writes, the share
// of the phase it was busy and committing (a node's average), and its
// commits over 50 ms, each of which held every write behind it (a disk
// that stalls). A busy share near 1 says the writer was what held the
// phase back. And how
// many cores, on average, the nodes, the PostgreSQL server and the load
// generator kept busy (cpu.go); the last two are 0 where they could not be
// read.
type Counters struct {
	DBAcquires           float64 `json:"db_acquires"`
	DBAcquireWaits       float64 `json:"db_acquire_waits"`
	DBAcquireWaitMsMean  float64 `json:"db_acquire_wait_ms_mean"`
	GCCycles             float64 `json:"gc_cycles"`
	WriterGroups         float64 `json:"writer_groups"`
	WriterWritesPerGroup float64 `json:"writer_writes_per_group"`
	WriterBusyShare      float64 `json:"writer_busy_share"`
	WriterCommitShare    float64 `json:"writer_commit_share"`
	WriterSlowCommits    float64 `json:"writer_commits_over_50ms"`
	NodeCPUCores         float64 `json:"node_cpu_cores"`
	DatabaseCPUCores     float64 `json:"database_cpu_cores"`
	LoadCPUCores         float64 `json:"load_cpu_cores"`
}

// The series Counters is made of.
const (
	seriesAcquires = "openteller_db_acquires_total"
	seriesWaits    = "openteller_db_acquire_waits_total"
	seriesWaited   = "openteller_db_acquire_wait_seconds_total"
	seriesGCs      = "go_gc_duration_seconds_count"
	seriesGroups   = "openteller_store_writer_groups_total"
	seriesWrites   = "openteller_store_writer_writes_total"
	seriesBusy     = "openteller_store_writer_busy_seconds_total"
	seriesCommit   = "openteller_store_writer_commit_seconds_sum"
	seriesCommits  = "openteller_store_writer_commit_seconds_count"
	// The commits within 50 ms (store.CommitBounds).
	seriesQuickCommits = `openteller_store_writer_commit_seconds_bucket{le="0.05"}`
	seriesCPU          = "process_cpu_seconds_total"
)

var allSeries = []string{seriesAcquires, seriesWaits, seriesWaited, seriesGCs, seriesGroups, seriesWrites, seriesBusy, seriesCommit, seriesCommits, seriesQuickCommits, seriesCPU}

// String is Counters as the log says it.
func (c Counters) String() string {
	s := fmt.Sprintf("garbage collections: %.0f; the store's writer: %.0f groups of %.1f writes, busy %.0f%% of the time, committing %.0f%%, %.0f commits over 50 ms",
		c.GCCycles, c.WriterGroups, c.WriterWritesPerGroup, 100*c.WriterBusyShare, 100*c.WriterCommitShare, c.WriterSlowCommits)
	if c.DBAcquires > 0 {
		s = fmt.Sprintf("database connections: %.0f requests, %.0f waited for one (%.1f ms each); %s",
			c.DBAcquires, c.DBAcquireWaits, c.DBAcquireWaitMsMean, s)
	}
	s += fmt.Sprintf("; cores busy: the nodes %.2f", c.NodeCPUCores)
	if c.DatabaseCPUCores > 0 {
		s += fmt.Sprintf(", PostgreSQL %.2f", c.DatabaseCPUCores)
	}
	if c.LoadCPUCores > 0 {
		s += fmt.Sprintf(", the load generator %.2f", c.LoadCPUCores)
	}
	return s
}

// logCounters tells the log what the nodes counted, if bench asked them.
func logCounters(w io.Writer, c *Counters) {
	if c != nil {
		fmt.Fprintf(w, "  the nodes meanwhile: %s\n", c)
	}
}

// countersBetween is what the nodes, nodes of them, counted from before
// to after, elapsed apart.
func countersBetween(before, after map[string]float64, elapsed time.Duration, nodes int) Counters {
	d := func(name string) float64 { return after[name] - before[name] }
	c := Counters{DBAcquires: d(seriesAcquires), DBAcquireWaits: d(seriesWaits), GCCycles: d(seriesGCs), WriterGroups: d(seriesGroups),
		WriterSlowCommits: d(seriesCommits) - d(seriesQuickCommits)}
	if c.DBAcquireWaits > 0 {
		c.DBAcquireWaitMsMean = d(seriesWaited) * 1000 / c.DBAcquireWaits
	}
	if c.WriterGroups > 0 {
		c.WriterWritesPerGroup = d(seriesWrites) / c.WriterGroups
	}
	if span := elapsed.Seconds() * float64(nodes); span > 0 {
		c.WriterBusyShare, c.WriterCommitShare = d(seriesBusy)/span, d(seriesCommit)/span
	}
	if s := elapsed.Seconds(); s > 0 {
		c.NodeCPUCores = d(seriesCPU) / s
	}
	return c
}

// counters reads every node's /metrics at once and sums the series
// Counters is made of. A node that lacks one it must have (the collector's
// on every node, the pool's on PostgreSQL) is an error: a misread must not
// pass for a count of zero.
func (e *env) counters(ctx context.Context) (map[string]float64, error) {
	must := []string{seriesGCs, seriesGroups, seriesWrites, seriesBusy, seriesCommit, seriesCommits, seriesQuickCommits}
	if runtime.GOOS == "linux" {
		// Where Prometheus's process collector reads it; elsewhere the
		// nodes' cores read 0.
		must = append(must, seriesCPU)
	}
	if e.postgres {
		must = append(must, seriesAcquires, seriesWaits, seriesWaited)
	}
	got := make([]map[string]float64, len(e.nodes))
	errs := make([]error, len(e.nodes))
	var wg sync.WaitGroup
	for i, n := range e.nodes {
		wg.Go(func() {
			if got[i], errs[i] = scrape(ctx, n.metrics); errs[i] != nil {
				return
			}
			for _, name := range must {
				if _, ok := got[i][name]; !ok {
					errs[i] = fmt.Errorf("bench: node metrics at %s lack %s", n.metrics, name)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sum := map[string]float64{}
	for _, m := range got {
		for k, v := range m {
			sum[k] += v
		}
	}
	return sum, nil
}

// phaseCounters runs phase and returns what the nodes counted during it;
// nil when there are no nodes of bench's own to ask (--target).
func (e *env) phaseCounters(ctx context.Context, phase func() error) (*Counters, error) {
	if e.nodes == nil {
		return nil, phase()
	}
	before, err := e.counters(ctx)
	if err != nil {
		return nil, err
	}
	load0, loadOK := loadCPU()
	server0, serverOK := serverCPU(e.postmaster)
	start := time.Now()
	if err := phase(); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	load1, loadOK1 := loadCPU()
	server1, serverOK1 := serverCPU(e.postmaster)
	after, err := e.counters(ctx)
	if err != nil {
		return nil, err
	}
	c := countersBetween(before, after, elapsed, len(e.nodes))
	if loadOK && loadOK1 {
		c.LoadCPUCores = (load1 - load0).Seconds() / elapsed.Seconds()
	}
	if e.postmaster != 0 && serverOK && serverOK1 {
		c.DatabaseCPUCores = (server1 - server0).Seconds() / elapsed.Seconds()
	}
	return &c, nil
}

// scrape reads the series Counters is made of from a node's /metrics.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: node metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: node metrics: %s", resp.Status)
	}
	return parseSeries(bufio.NewScanner(resp.Body), allSeries...)
}

// parseSeries reads the values of the unlabelled series named from
// Prometheus's text format; a series the text lacks is left out.
func parseSeries(sc *bufio.Scanner, names ...string) (map[string]float64, error) {
	out := map[string]float64{}
	for sc.Scan() {
		f := strings.Fields(sc.Text()) // name value [timestamp]
		if len(f) < 2 || !slices.Contains(names, f[0]) {
			continue
		}
		name := f[0]
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, fmt.Errorf("bench: node metrics: %s: %w", name, err)
		}
		out[name] = v
	}
	return out, sc.Err()
}

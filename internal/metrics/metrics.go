// Package metrics is what a node tells its operator about itself: counts
// and timings in the Prometheus text format, served on the operator-only
// listener (--metrics-addr), never on the public one.
//
// The operator sees health and metrics, never content (DESIGN.md). So every
// label comes from a fixed vocabulary written in the code: the mux's route
// patterns, the platform's event types, the result and refusal codes of
// the Bank API, the webhook deliverer's outcomes, status classes, the
// states of a database connection (PoolStates). A label
// never carries an id, a name, an amount, an address or anything a
// customer or a bank wrote; a value outside its vocabulary is counted as
// "other" (a route as "unmatched"), so no input can put text of its own in
// a scrape.
//
// Metrics owns its registry (not Prometheus's global one): the Go runtime,
// the process, and the openteller_ families below.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/webhook"
	"github.com/openteller/openteller/pkg/bankapi"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Other is the label of a value outside its vocabulary; Unmatched is the
// route of a request no route pattern served.
const (
	Other     = "other"
	Unmatched = "unmatched"
)

// EventTypes is the vocabulary of openteller_events_committed_total's type
// label: what banks post and what the customer's and the agents' side
// write, all of it through the store's appends. (The platform's own
// markers, such as link.revoked or history.cleared, are written with the
// change they mark, not appended, and are not counted here.)
var EventTypes = append(append([]string{}, bankapi.EventTypes...),
	ingest.CustomerMessageType, ingest.CustomerRequestType, ingest.FraudResponseType, ingest.CardActionType,
	ingest.PaymentAuthorizeType, ingest.PaymentAskType, ingest.RatingRequestType, ingest.RatingType,
	ingest.AgentJoinedType, ingest.AgentLeftType)

// Results is the vocabulary of openteller_events_received_total's result
// label: a bank's event accepted or a duplicate, else the code of its
// refusal, as ingest answers it (TestEveryRefusalHasALabel keeps the list
// up with ingest's codes), and "unavailable" when the batch could not be
// stored.
var Results = []string{bankapi.ResultAccepted, bankapi.ResultDuplicate,
	"invalid_event", "unknown_link", "unknown_type", "duplicate_in_batch", "pan_detected",
	"consent_scope", "consent_expired", "consent_revoked", "idempotency_conflict", "unavailable", "internal"}

// Outcomes is the vocabulary of openteller_webhook_deliveries_total's
// outcome label.
var Outcomes = []string{webhook.OutcomeDelivered, webhook.OutcomeRetry, webhook.OutcomeDead, webhook.OutcomeHeld}

// Metrics is a node's registry and the families it records into. Its
// methods are safe for concurrent use.
type Metrics struct {
	registry     *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	committed    vocabulary
	received     vocabulary
	webhooks     vocabulary
}

// vocabulary is a counter family with one label, its children made up
// front for each word of the vocabulary (so a scrape shows zeros too) and
// one for Other.
type vocabulary map[string]prometheus.Counter

func newVocabulary(vec *prometheus.CounterVec, words []string) vocabulary {
	v := vocabulary{Other: vec.WithLabelValues(Other)}
	for _, w := range words {
		v[w] = vec.WithLabelValues(w)
	}
	return v
}

// count adds one under word, or under Other when word is not in the
// vocabulary.
func (v vocabulary) count(word string) {
	c, ok := v[word]
	if !ok {
		c = v[Other]
	}
	c.Inc()
}

// New returns a node's metrics in a registry of their own, with the Go
// runtime's and the process's.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help, label string) *prometheus.CounterVec {
		vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
		reg.MustRegister(vec)
		return vec
	}
	m := &Metrics{
		registry: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "openteller_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status class."}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "openteller_http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by route pattern (a WebSocket's: its whole life).", Buckets: prometheus.DefBuckets}, []string{"route"}),
		committed: newVocabulary(counter("openteller_events_committed_total",
			"Events appended and committed (banks', customers' and agents'), by event type.", "type"), EventTypes),
		received: newVocabulary(counter("openteller_events_received_total",
			"Events banks posted, by result: accepted, duplicate, or the refusal's code.", "result"), Results),
		webhooks: newVocabulary(counter("openteller_webhook_deliveries_total",
			"Notices the webhook deliverer took a turn at, by outcome.", "outcome"), Outcomes),
	}
	reg.MustRegister(m.httpRequests, m.httpDuration)
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Request records an answered HTTP request. route must be a pattern the
// node registered (the caller checks), or "" for none: it becomes
// Unmatched. The status is kept as its class ("2xx").
func (m *Metrics) Request(route string, status int, took time.Duration) {
	if route == "" {
		route = Unmatched
	}
	m.httpRequests.WithLabelValues(route, StatusClass(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(took.Seconds())
}

// StatusClass is an HTTP status's class, "1xx" to "5xx", or Other.
func StatusClass(status int) string {
	if status < 100 || status > 599 {
		return Other
	}
	return strconv.Itoa(status/100) + "xx"
}

// EventCommitted counts an event the store committed, by its type.
func (m *Metrics) EventCommitted(eventType string) { m.committed.count(eventType) }

// EventReceived counts one event a bank posted, by its result (an
// ingest.Config.Received hook).
func (m *Metrics) EventReceived(result string) { m.received.count(result) }

// WebhookTried counts a notice the deliverer took a turn at, by its
// outcome (a webhook.Config.Tried hook).
func (m *Metrics) WebhookTried(outcome string) { m.webhooks.count(outcome) }

// CountSockets makes openteller_sockets_open read open from each scrape:
// the customers' live WebSockets on this node (delivery.Hub.Devices). Call
// it once.
func (m *Metrics) CountSockets(open func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "openteller_sockets_open",
		Help: "Customers' live WebSockets on this node."}, func() float64 { return float64(open()) }))
}

// DatabasePool is what a node's PostgreSQL pool says of itself at a scrape.
type DatabasePool struct {
	Max, InUse, Idle, Opening int32
	Acquires                  int64 // connections handed to requests
	// Waits counts the acquires that found no idle connection and waited,
	// for one to be released or for a new one to open; Waited is how long
	// they waited in all. Canceled counts the requests that gave up
	// waiting (their context ended), which Waits leaves out.
	Waits, Canceled int64
	Waited          time.Duration
}

// PoolStates is the vocabulary of openteller_db_connections' state label.
var PoolStates = []string{"in_use", "idle", "opening"}

// WatchDatabasePool makes the openteller_db_ families read stat at each
// scrape: how many connections the node holds and may hold, and how
// often and how long requests waited for one, or gave up. Call it once,
// on a node whose store is PostgreSQL.
func (m *Metrics) WatchDatabasePool(stat func() DatabasePool) {
	m.registry.MustRegister(poolCollector(stat))
}

var (
	dbConnections = prometheus.NewDesc("openteller_db_connections",
		"Connections to PostgreSQL this node holds, by state: in_use, idle, opening.", []string{"state"}, nil)
	dbConnectionsMax = prometheus.NewDesc("openteller_db_connections_max",
		"The most connections to PostgreSQL this node opens (pool_max_conns, and two at least: the writer's and one for reads).", nil, nil)
	dbAcquires = prometheus.NewDesc("openteller_db_acquires_total",
		"Connections to PostgreSQL handed to requests.", nil, nil)
	dbWaits = prometheus.NewDesc("openteller_db_acquire_waits_total",
		"Requests that found no idle connection to PostgreSQL and waited for one to be released or opened.", nil, nil)
	dbWaited = prometheus.NewDesc("openteller_db_acquire_wait_seconds_total",
		"Time those requests waited, in all.", nil, nil)
	dbCanceled = prometheus.NewDesc("openteller_db_acquire_canceled_total",
		"Requests that gave up waiting for a connection to PostgreSQL.", nil, nil)
)

// poolCollector reads the pool once a scrape.
type poolCollector func() DatabasePool

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dbConnections, dbConnectionsMax, dbAcquires, dbWaits, dbWaited, dbCanceled} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	p := c()
	for i, n := range []int32{p.InUse, p.Idle, p.Opening} {
		ch <- prometheus.MustNewConstMetric(dbConnections, prometheus.GaugeValue, float64(n), PoolStates[i])
	}
	ch <- prometheus.MustNewConstMetric(dbConnectionsMax, prometheus.GaugeValue, float64(p.Max))
	ch <- prometheus.MustNewConstMetric(dbAcquires, prometheus.CounterValue, float64(p.Acquires))
	ch <- prometheus.MustNewConstMetric(dbWaits, prometheus.CounterValue, float64(p.Waits))
	ch <- prometheus.MustNewConstMetric(dbWaited, prometheus.CounterValue, p.Waited.Seconds())
	ch <- prometheus.MustNewConstMetric(dbCanceled, prometheus.CounterValue, float64(p.Canceled))
}

// Writer is what a store's group-commit writer says of itself at a
// scrape (store.WriterStat): every write to SQLite, and every append of
// events to PostgreSQL, waits its turn there.
type Writer struct {
	Groups, Writes int64
	Busy, Commit   time.Duration
	// Commits counts the commits that took at most each of CommitBounds
	// (cumulative, as store.WriterStat has them); CommitsAll, every one.
	Commits      []int64
	CommitBounds []time.Duration
	CommitsAll   int64
}

// WatchWriter makes the openteller_store_writer_ families read stat at each
// scrape. Call it once.
func (m *Metrics) WatchWriter(stat func() Writer) {
	m.registry.MustRegister(writerCollector(stat))
}

var (
	writerGroups = prometheus.NewDesc("openteller_store_writer_groups_total",
		"Groups of writes the store's writer took, each applied in one transaction (on PostgreSQL, a group that fails is tried again write by write, each a group of its own).", nil, nil)
	writerWrites = prometheus.NewDesc("openteller_store_writer_writes_total",
		"Writes in those groups (a bank's batch is one).", nil, nil)
	writerBusy = prometheus.NewDesc("openteller_store_writer_busy_seconds_total",
		"Time the writer spent on its groups, from taking each to answering its writers. Growing by nearly a second a second, the writer is what holds writes back.", nil, nil)
	writerCommit = prometheus.NewDesc("openteller_store_writer_commit_seconds",
		"Of that, time committing, a group's commit at a time: SQLite's COMMIT (the log written and flushed to disk); PostgreSQL's round trip that carries a group's writes and its COMMIT. Commits over 50 ms hold every write behind them: on SQLite look at the disk, on PostgreSQL at the server's disk and load.", nil, nil)
)

// writerCollector reads the writer once a scrape.
type writerCollector func() Writer

func (c writerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{writerGroups, writerWrites, writerBusy, writerCommit} {
		ch <- d
	}
}

func (c writerCollector) Collect(ch chan<- prometheus.Metric) {
	w := c()
	ch <- prometheus.MustNewConstMetric(writerGroups, prometheus.CounterValue, float64(w.Groups))
	ch <- prometheus.MustNewConstMetric(writerWrites, prometheus.CounterValue, float64(w.Writes))
	ch <- prometheus.MustNewConstMetric(writerBusy, prometheus.CounterValue, w.Busy.Seconds())
	buckets := make(map[float64]uint64, len(w.Commits))
	for i, n := range w.Commits {
		buckets[w.CommitBounds[i].Seconds()] = uint64(n)
	}
	ch <- prometheus.MustNewConstHistogram(writerCommit, uint64(w.CommitsAll), w.Commit.Seconds(), buckets)
}

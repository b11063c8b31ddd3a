package server

import (
	"log/slog"
	"net/http"
)

// MetricsHandler is what the metrics listener serves: GET /metrics, the
// node's metrics in the Prometheus formats, and nothing else.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.Metrics.Handler())
	return mux
}

// ServeMetrics serves MetricsHandler on its own listener, which should be
// reachable by operators only (loopback or a private interface, where
// Prometheus scrapes it). It carries no customer data: its labels are
// route patterns, event types, result codes and outcomes (package
// metrics), never ids, names, amounts or text.
func (s *Server) ServeMetrics(addr string, log *slog.Logger) (stop func(), err error) {
	return serveOperator(addr, "metrics listener", s.MetricsHandler(), log)
}

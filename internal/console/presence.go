package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/delivery"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
)

// Presence timings. A console's presence lives only while its stream
// does: closing the tab ends it at once; a node that dies leaves it to
// lapse after presenceLease.
const (
	presenceLease = 45 * time.Second // how long a presence lasts unless renewed
	presenceRenew = 15 * time.Second // how often a live stream renews it, checks the session, and pings the console
	presencePing  = 10 * time.Second // how long the console has to answer a ping
)

// presence serves GET /console/api/presence, a WebSocket held open by
// every console page: it is how the platform knows who is there to be
// given work. The console sends {"type":"status","status":"online"|"away"}
// when it opens and whenever that changes (it goes away by itself when
// hidden or idle); each is kept in the store as this console's presence,
// renewed every presenceRenew, and answered {"type":"presence","status"}.
// When the stream closes — the tab closed, the network went, the member
// signed out (CloseSignedOut) — the presence ends, so automatic assignment
// (AvailableAgents) never picks an agent who is not there. A bad message
// is answered {"type":"error","error":{"code","message"}} and changes
// nothing.
func (s *Service) presence(w http.ResponseWriter, r *http.Request, m member) {
	// Same-origin only, as the conversation's live stream.
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(1 << 10)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	stream := ingest.NewID("prs_")
	defer func() {
		// The request's context is over by now; the end must still be written.
		end, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer stop()
		if err := s.c.Store.EndPresence(end, stream, s.c.Now()); err != nil {
			s.c.Logger.Warn("console: end presence", "staff", m.ID, "err", err)
		}
	}()

	type message struct {
		status string
		bad    error
	}
	messages := make(chan message)
	failed := make(chan error, 2) // the reader's and the pinger's
	go func() {
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				failed <- err
				return
			}
			var msg struct{ Type, Status string }
			var got message
			switch {
			case json.Unmarshal(data, &msg) != nil || msg.Type != "status":
				got.bad = httpx.Errorf(http.StatusBadRequest, "invalid_message", `Send {"type":"status","status":"online"} or "away".`)
			case msg.Status != store.PresenceOnline && msg.Status != store.PresenceAway:
				got.bad = httpx.Errorf(http.StatusBadRequest, "invalid_status", "A console is online or away.")
			default:
				got.status = msg.Status
			}
			select {
			case messages <- got:
			case <-ctx.Done():
				return
			}
		}
	}()

	// A console that vanished without closing (a laptop lid, a lost
	// network) stops answering pings; its presence ends then, not at the
	// lease's end. The reader must run for pongs to be heard, so the
	// pinger is its own goroutine.
	go func() {
		t := time.NewTicker(presenceRenew)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ping, stop := context.WithTimeout(ctx, presencePing)
			err := conn.Ping(ping)
			stop()
			if err != nil {
				failed <- err
				return
			}
		}
	}()

	status := "" // nothing is kept until the console says how it is
	keep := func() error {
		if status == "" {
			return nil
		}
		return s.c.Store.SetPresence(ctx, store.Presence{StreamID: stream, StaffID: m.ID, SessionHash: m.session.IDHash,
			Status: status, ExpiresAt: s.c.Now().Add(presenceLease)})
	}
	renew := time.NewTicker(presenceRenew)
	defer renew.Stop()
	for {
		var err error
		select {
		case err = <-failed:
		case msg := <-messages:
			if msg.bad != nil {
				var typed *httpx.Error
				errors.As(msg.bad, &typed)
				err = delivery.WriteFrame(ctx, conn, map[string]any{"type": "error", "error": map[string]string{"code": typed.Code, "message": typed.Message}})
				break
			}
			status = msg.status
			if err = keep(); err == nil {
				err = delivery.WriteFrame(ctx, conn, map[string]string{"type": "presence", "status": status})
			}
		case <-renew.C:
			if _, err = s.c.Store.StaffSession(ctx, m.session.IDHash); errors.Is(err, store.ErrNotFound) {
				err = errSignedOut
				break
			}
			if err == nil {
				err = keep()
			}
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, errSignedOut):
			conn.Close(CloseSignedOut, "signed out")
		case errors.Is(err, context.Canceled), websocket.CloseStatus(err) != -1:
			conn.Close(websocket.StatusNormalClosure, "")
		default:
			s.c.Logger.Info("console: presence stream ended", "staff", m.ID, "err", err)
			conn.CloseNow()
		}
		return
	}
}

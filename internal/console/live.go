package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/delivery"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// Close codes of the live stream.
const (
	CloseSignedOut = delivery.CloseSignedOut // the session ended, or the member was disabled
	CloseNotShared = 4404                    // the conversation is no longer the member's to see
)

const (
	livePoll = 5 * time.Second // backstop for lost wake-ups, and the recheck of who may see
)

var errSignedOut = errors.New("console: signed out")

// watcher is one live stream, told by the bus that its conversation may
// have moved, or that its customer is typing.
type watcher struct {
	wake chan struct{} // capacity 1

	mu           sync.Mutex
	moved, typed bool
}

func newWatcher() *watcher { return &watcher{wake: make(chan struct{}, 1)} }

func (w *watcher) signal(flag *bool) {
	w.mu.Lock()
	*flag = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) take() (moved, typed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	moved, typed = w.moved, w.typed
	w.moved, w.typed = false, false
	return moved, typed
}

// watch registers a live stream of a conversation until the returned stop.
func (s *Service) watch(conversationID string, w *watcher) (stop func()) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.watchers[conversationID] == nil {
		s.watchers[conversationID] = map[*watcher]struct{}{}
	}
	s.watchers[conversationID][w] = struct{}{}
	return func() {
		s.watchMu.Lock()
		defer s.watchMu.Unlock()
		delete(s.watchers[conversationID], w)
		if len(s.watchers[conversationID]) == 0 {
			delete(s.watchers, conversationID)
		}
	}
}

// live serves GET /console/api/conversations/{id}/live?after=SEQ, a
// WebSocket: once a member has opened a conversation (loading it up to
// SEQ), what happens next in it reaches their console as it happens —
// {"type":"events","events":[…]} and {"type":"typing"} — instead of
// waiting for a refresh.
//
// Each batch of events is a read like any other: it is written into the
// customer's access log before it is opened. Before each batch, and at
// least every few seconds, the stream checks again that the session is
// live and that the member may still see the conversation, so signing
// out, a disabled member, or a customer who takes back support_chat ends
// it (CloseSignedOut, CloseNotShared).
func (s *Service) live(w http.ResponseWriter, r *http.Request, m member) {
	c, err := s.conversation(r.Context(), m, r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if err != nil || after < 0 {
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_after", "Say up to which seq the console has the conversation: ?after=N."))
		return
	}
	// Same-origin only (the library's default Origin check), so another
	// site cannot open a stream with the member's cookie.
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ctx := conn.CloseRead(r.Context()) // the console sends nothing on it
	wt := newWatcher()
	defer s.watch(c.ID, wt)()
	stop, err := s.c.Watch(c.CustomerID, func(conversationID string) {
		if conversationID == c.ID || conversationID == "" {
			wt.signal(&wt.moved)
		}
	})
	if err != nil {
		s.c.Logger.Error("console: watch", "conversation", c.ID, "err", err)
		conn.Close(websocket.StatusInternalError, "server error")
		return
	}
	defer stop()

	err = s.stream(ctx, conn, m, c.ID, after, wt)
	switch {
	case errors.Is(err, errSignedOut):
		conn.Close(CloseSignedOut, "signed out")
	case errors.Is(err, errNotVisible):
		conn.Close(CloseNotShared, "no longer shared")
	case err == nil, errors.Is(err, context.Canceled), websocket.CloseStatus(err) != -1:
		conn.Close(websocket.StatusNormalClosure, "")
	default:
		s.c.Logger.Warn("console: live stream", "conversation", c.ID, "err", err)
		conn.Close(websocket.StatusInternalError, "server error")
	}
}

func (s *Service) stream(ctx context.Context, conn *websocket.Conn, m member, conversationID string, after int64, wt *watcher) error {
	poll := time.NewTicker(livePoll)
	defer poll.Stop()
	moved := true // events may have come between the page and the stream
	for {
		if moved {
			if err := s.sendSince(ctx, conn, m, conversationID, &after); err != nil {
				return err
			}
		}
		var typed bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
			moved = true
		case <-wt.wake:
			moved, typed = wt.take()
		}
		if typed {
			if _, err := s.stillVisible(ctx, m, conversationID); err != nil {
				return err
			}
			if err := delivery.WriteFrame(ctx, conn, map[string]string{"type": "typing"}); err != nil {
				return err
			}
		}
	}
}

// stillVisible checks again, before anything is sent, that the member is
// signed in and may see the conversation, and returns it as it is now.
func (s *Service) stillVisible(ctx context.Context, m member, conversationID string) (store.Conversation, error) {
	if _, err := s.c.Store.StaffSession(ctx, m.session.IDHash); errors.Is(err, store.ErrNotFound) {
		return store.Conversation{}, errSignedOut
	} else if err != nil {
		return store.Conversation{}, err
	}
	return s.conversation(ctx, m, conversationID)
}

// sendSince sends the conversation's events after *after, recording each
// batch in the customer's access log before opening it. A batch holds
// only events up to the head seen when the member's right was checked: a
// revocation or narrowing commits its notice with the change, so nothing
// after it is sent without a new check.
func (s *Service) sendSince(ctx context.Context, conn *websocket.Conn, m member, conversationID string, after *int64) error {
	for {
		c, err := s.stillVisible(ctx, m, conversationID)
		if err != nil {
			return err
		}
		if c.LastSeq <= *after {
			return nil
		}
		if err := s.c.Access.Record(ctx, access.ActorAgent, m.ID, "read", "conversation", c.CustomerID); err != nil {
			return fmt.Errorf("console: record access: %w", err)
		}
		page, err := s.c.Since(ctx, c.ID, *after, c.LastSeq)
		if err != nil {
			return err
		}
		if len(page.Events) > 0 {
			if err := delivery.WriteFrame(ctx, conn, map[string]any{"type": "events", "events": page.Events}); err != nil {
				return err
			}
		}
		if !page.More {
			*after = c.LastSeq // up to the head checked; events deleted on the way are gone
			return nil
		}
		*after = page.Events[len(page.Events)-1].Seq
	}
}

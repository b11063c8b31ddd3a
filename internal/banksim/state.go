package banksim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

const stateVersion = 1

// bankState is everything the bank remembers across a restart. Live
// authorization codes are left out on purpose: they last 60 seconds, and a
// restart simply makes the customer sign in again.
type bankState struct {
	Version int `json:"version"`
	// Nonce is part of every event id, so ids never repeat across bank
	// instances, even with the same seed.
	Nonce string `json:"nonce"`
	// RefKey keys the pairwise references each link sees.
	RefKey []byte `json:"ref_key"`
	// Counter numbers everything the bank creates: events, transactions,
	// references.
	Counter uint64 `json:"counter"`
	// Rand is the activity generator's state, so a restored bank carries on
	// its sequence rather than replaying it.
	Rand      []byte           `json:"rand"`
	Customers []*customer      `json:"customers"`
	Links     []*link          `json:"links"`
	Pending   []*pendingCharge `json:"pending"`
	Alerts    []*fraudAlert    `json:"alerts,omitempty"`
	// CardStatuses are the card.status events with actions the customer
	// may still take, the newest per card and link.
	CardStatuses []*cardStatus `json:"card_statuses,omitempty"`
	// Payments are what the bank was asked to pay, or asked for, until a
	// while after they ended.
	Payments []*payment `json:"payments,omitempty"`
	// Outbox holds events not yet answered by the platform, in order.
	Outbox []outboxEvent `json:"outbox"`
}

// link binds a platform link id to one of the bank's customers.
type link struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id"`
	Scopes     []string  `json:"scopes"`
	CreatedAt  time.Time `json:"created_at"`
	// TokenSHA256 is the hash of the access token issued for the link; the
	// token itself is never stored.
	TokenSHA256 string `json:"token_sha256"`
	// Stopped says why the bank no longer posts to this link; empty while
	// it is live.
	Stopped string `json:"stopped,omitempty"`
}

// allows reports whether the link's scopes permit an event type. Unknown
// types are never allowed.
func (l *link) allows(eventType string) bool {
	scope, known := bankapi.ScopeFor(eventType)
	return known && (scope == "" || slices.Contains(l.Scopes, scope))
}

// outboxEvent is an event waiting for the platform's answer. Data is the
// JSON encoded when the event was created, kept as bytes so a replay after a
// restart is byte-for-byte the original, never a re-encoding of a decoded
// map.
type outboxEvent struct {
	ID         string          `json:"id"`
	LinkID     string          `json:"link_id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// loadState reads the state file; (nil, nil) when there is none yet.
func loadState(path string) (*bankState, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	var st bankState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("load state %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("load state %s: version %d, want %d", path, st.Version, stateVersion)
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("load state %s: %w", path, err)
	}
	return &st, nil
}

// check refuses a state whose references do not resolve (a hand-edited
// file), so the bank fails at start rather than in the middle of a run.
func (st *bankState) check() error {
	accounts := map[string]bool{}
	for _, c := range st.Customers {
		for _, a := range c.Accounts {
			accounts[c.ID+"/"+a.ID] = true
		}
		accounts[c.ID] = true
	}
	for _, l := range st.Links {
		if !accounts[l.CustomerID] {
			return fmt.Errorf("link %s names unknown customer %s", l.ID, l.CustomerID)
		}
	}
	for _, p := range st.Pending {
		if !accounts[p.CustomerID+"/"+p.AccountID] {
			return fmt.Errorf("pending charge %s names unknown account %s/%s", p.Ref, p.CustomerID, p.AccountID)
		}
	}
	for _, s := range st.CardStatuses {
		if !accounts[s.CustomerID+"/"+s.AccountID] {
			return fmt.Errorf("card status %s names unknown account %s/%s", s.EventID, s.CustomerID, s.AccountID)
		}
	}
	for _, p := range st.Payments {
		switch {
		case p.CustomerID != "" && !accounts[p.CustomerID]:
			return fmt.Errorf("payment %s names unknown customer %s", p.PaymentID, p.CustomerID)
		case p.PayeeCustomerID != "" && !accounts[p.PayeeCustomerID]:
			return fmt.Errorf("payment %s names unknown customer %s", p.PaymentID, p.PayeeCustomerID)
		case p.AccountID != "" && !accounts[p.CustomerID+"/"+p.AccountID]:
			return fmt.Errorf("payment %s names unknown account %s/%s", p.PaymentID, p.CustomerID, p.AccountID)
		}
	}
	if len(st.RefKey) == 0 || st.Nonce == "" || len(st.Customers) == 0 {
		return errors.New("missing reference key, nonce or customers")
	}
	return nil
}

// saveLocked writes the state file atomically: a temporary file, synced,
// then renamed over the old one, so a crash leaves either the old state or
// the new, never half of one. b.mu must be held.
func (b *Bank) saveLocked() error {
	if b.cfg.StatePath == "" {
		return nil
	}
	rnd, err := b.pcg.MarshalBinary()
	if err != nil {
		return &persistError{fmt.Errorf("banksim: save state: %w", err)}
	}
	b.st.Rand = rnd
	raw, err := json.Marshal(&b.st)
	if err != nil {
		return &persistError{fmt.Errorf("banksim: save state: %w", err)}
	}
	if bytes.Equal(raw, b.saved) {
		return nil
	}
	if err := writeFileAtomic(b.cfg.StatePath, raw); err != nil {
		return &persistError{fmt.Errorf("banksim: save state: %w", err)}
	}
	b.saved = raw
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	// The file holds the bank's reference key: readable by its owner only.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

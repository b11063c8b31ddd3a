// Package webhook delivers the outbox to banks: each notice is posted to the
// institution's endpoint, signed per Standard Webhooks (pkg/bankapi), or in
// the format the endpoint was registered with (Messenger's: package
// messenger, through Config.Formats), at least once, in order per link.
//
// What must stay true:
//   - A notice is marked delivered only after a 2xx answer; anything else is
//     tried again on Schedule, honouring Retry-After, and dead-lettered after
//     the last try, never dropped.
//   - No two deliverers (on one node or many) send the same notice at once:
//     the store leases it to one.
//   - Requests go only to public addresses unless the configuration allows
//     private ones (the demo and tests do); redirects are not followed.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// storeRoles is what webhooks need of the store: the outbox, and the
// institutions' endpoints in it.
type storeRoles interface {
	store.Outbox
}

// Schedule is the wait before each attempt: the first at once, then 5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h. After the last the
// notice is dead-lettered.
var Schedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

const (
	requestTimeout = 15 * time.Second
	holdNoEndpoint = time.Minute // retry time while an institution has no usable endpoint
	maxRetryAfter  = 24 * time.Hour
	claimBatch     = 64
	parallel       = 8 // notices of different links go out side by side
	// lease covers a whole batch sent parallel at a time, each send within
	// requestTimeout, with room to settle; a crashed deliverer's notices
	// come back after it.
	lease = (claimBatch+parallel-1)/parallel*requestTimeout + 30*time.Second
	// SendLease is how long a notice leased to its node at commit (Send)
	// is that node's: one request, with room to settle. Should the node
	// die, another claims the notice after it.
	SendLease = requestTimeout + 30*time.Second
	senders   = 16   // notices of Send in flight at once
	sendQueue = 4096 // and waiting; past it, a notice waits for its lease to end
)

// Config configures New.
type Config struct {
	Store   storeRoles
	Keyring *vault.Keyring
	Now     func() time.Time
	Logger  *slog.Logger
	// AllowPrivate lets endpoints on loopback, private and link-local
	// addresses be used: for the demo and tests only.
	AllowPrivate bool
	// Formats shape the requests of endpoints registered with a format
	// other than Standard Webhooks, by its name (store.FormatMessenger:
	// messenger.Format). Notices go through the same outbox, leases,
	// retries and dead letters whatever the format.
	Formats map[string]Format
	// Tried, if set, is told the outcome of each notice the deliverer
	// took a turn at (OutcomeDelivered, OutcomeRetry, OutcomeDead or
	// OutcomeHeld), for the node's metrics. It must not block.
	Tried func(outcome string)
}

// Outcomes of a notice's turn, as Config.Tried hears them.
const (
	OutcomeDelivered = "delivered" // the endpoint answered 2xx (or the format had nothing to send)
	OutcomeRetry     = "retry"     // sent and not taken: it goes again
	OutcomeDead      = "dead"      // dead-lettered: it is not tried again
	OutcomeHeld      = "held"      // not sent: no usable endpoint, its payload not opened yet, or its lease too short
)

// outcomeOf names what o did with a notice that had been tried before
// attempts times.
func outcomeOf(o store.Outcome, attempts int) string {
	switch {
	case !o.DeliveredAt.IsZero():
		return OutcomeDelivered
	case !o.DeadAt.IsZero():
		return OutcomeDead
	case o.Attempts > attempts:
		return OutcomeRetry
	}
	return OutcomeHeld
}

// Format makes the request that tells an endpoint of its format about a
// notice: its body and the headers that sign it with the endpoint's live
// secrets (newest first), which the vault keeps: the format gets MACs, not
// the secrets. data is the notice's data, opened. send false means the
// notice has nothing to say in this format: it counts as delivered without
// a request.
type Format func(n store.Notice, data []byte, secrets []*vault.MACKey, now time.Time) (body []byte, header http.Header, send bool, err error)

// Deliverer posts due notices: those it claims (Tick), and those the
// store leased to this node as they were committed (Send).
type Deliverer struct {
	store   storeRoles
	keyring *vault.Keyring
	now     func() time.Time
	log     *slog.Logger
	client  *http.Client
	kick    chan struct{}
	kicked  atomic.Int64       // until when (unix ns) a settle asks for a claim: see Kick
	sends   chan store.Notice  // leased at commit, to send now
	settles chan store.Outcome // of sends, to record together
	formats map[string]Format
	tried   func(outcome string)
}

// New returns a Deliverer.
func New(c Config) *Deliverer {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &Deliverer{store: c.Store, keyring: c.Keyring, now: c.Now, log: c.Logger, client: Client(c.AllowPrivate), kick: make(chan struct{}, 1),
		sends: make(chan store.Notice, sendQueue), settles: make(chan store.Outcome, sendQueue), formats: c.Formats, tried: c.Tried}
}

// report tells Config.Tried what became of n.
func (d *Deliverer) report(n store.Notice, o store.Outcome) {
	if d.tried != nil {
		d.tried(outcomeOf(o, n.Attempts))
	}
}

// Send posts a notice the store leased to this node when it committed it
// (store.AppendResult.Leased): at once, with no claim, and records the
// outcome. Run does the work. If too much is waiting, the notice is left
// to its lease's end, when a claim takes it: late, never lost.
func (d *Deliverer) Send(n store.Notice) {
	select {
	case d.sends <- n:
	default:
		d.log.Warn("webhook: too many notices waiting; one waits for its lease to end", "notice", n.ID)
	}
}

// sender posts what Send queued, until ctx ends.
func (d *Deliverer) sender(ctx context.Context) {
	targets := targetCache{d: d}
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-d.sends:
			o := d.deliver(ctx, n, targets.get(ctx, n.InstitutionID))
			o.NoticeID, o.LeaseUntil = n.ID, n.LeaseUntil
			d.report(n, o)
			if o.DeliveredAt.IsZero() {
				d.log.Warn("webhook: not delivered", "notice", n.ID, "institution", n.InstitutionID, "attempts", o.Attempts, "dead", !o.DeadAt.IsZero(), "err", o.Error)
			}
			select {
			case d.settles <- o:
			case <-ctx.Done():
				return // unsettled, its lease runs out: it goes again
			}
		}
	}
}

// settleEvery gathers the outcomes of sends into one transaction: the bank
// has its notice already, so recording it can wait a few milliseconds.
const settleEvery = 10 * time.Millisecond

// settler records the sends' outcomes, those of up to settleEvery in one
// transaction. When a claim was asked for meanwhile (a notice queued
// behind one being sent, say), it asks again: the next notice of a link
// may go now.
func (d *Deliverer) settler(ctx context.Context) {
	for {
		var batch []store.Outcome
		select {
		case <-ctx.Done():
			return
		case o := <-d.settles:
			batch = append(batch, o)
		}
		select {
		case <-ctx.Done():
		case <-time.After(settleEvery):
		}
	drain:
		for len(batch) < 256 {
			select {
			case o := <-d.settles:
				batch = append(batch, o)
			default:
				break drain
			}
		}
		// Should this fail, the leases run out and the notices go again:
		// at least once, never lost.
		if err := d.store.SettleNotices(ctx, batch); err != nil && ctx.Err() == nil {
			d.log.Error("webhook: settle sent notices", "notices", len(batch), "err", err)
		}
		if d.now().UnixNano() < d.kicked.Load() {
			d.tick()
		}
	}
}

// targetCache reads an institution's endpoint at most once a second for
// Send: a busy node sends hundreds a second to the same bank.
type targetCache struct {
	d  *Deliverer
	at map[string]cachedTarget
}

type cachedTarget struct {
	t    target
	read time.Time
}

func (c *targetCache) get(ctx context.Context, institutionID string) target {
	now := c.d.now()
	if ct, ok := c.at[institutionID]; ok && now.Sub(ct.read) < time.Second && now.Sub(ct.read) >= 0 {
		return ct.t
	}
	if c.at == nil {
		c.at = map[string]cachedTarget{}
	}
	t := c.d.target(ctx, institutionID, now)
	c.at[institutionID] = cachedTarget{t, now}
	return t
}

// Kick asks Run to look for due notices now rather than at its next tick:
// a customer's answer should reach the bank in milliseconds. It never
// blocks; kicks while one is pending fold into it.
//
// A notice queued behind its link's notice in flight can only be claimed
// once that one is settled, up to a request's timeout later. So for that
// long, every settle asks for a claim as well. (A flag that the first
// settle cleared left the queued notice to the next tick whenever another
// link's send settled first: a fraud answer reached the bank up to a
// second late, about one in five hundred under load.)
func (d *Deliverer) Kick() {
	d.kicked.Store(d.now().Add(requestTimeout + time.Second).UnixNano())
	d.tick()
}

// tick asks Run for a Tick, without noting that anyone asked for a claim.
func (d *Deliverer) tick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// ErrForbiddenAddress is returned for an endpoint on an address that is
// not allowed.
var ErrForbiddenAddress = errors.New("webhook: endpoint address is not public")

// Client returns the HTTP client for outgoing webhooks: it refuses to
// connect to non-public addresses (checked on the resolved address, so a
// name that resolves inwards is refused too) unless allowPrivate, uses no
// proxy and follows no redirect. It keeps a connection open to each bank
// for every request a Deliverer may have in flight, so a burst of
// notices reuses them rather than opening (and shaking hands on) new ones.
func Client(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !Public(ap.Addr()) {
			return ErrForbiddenAddress
		}
		return nil
	}}
	return &http.Client{
		Timeout:       requestTimeout,
		Transport:     &http.Transport{DialContext: dialer.DialContext, Proxy: nil, MaxIdleConnsPerHost: senders + parallel, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// notPublic lists the special-purpose ranges (RFC 6890 and the IANA
// registries) that are not on the public internet, or that carry an IPv4
// address inside an IPv6 one, beyond what netip's predicates cover.
var notPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
		"::/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "fec0::/10",
	} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

// Public reports whether ip is an address on the public internet: not
// private, loopback, link-local, shared (CGNAT), reserved, documentation
// or benchmarking space, and not an IPv6 form that embeds an IPv4 address.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// SecretRecord names the sealed webhook secret of an institution.
func SecretRecord(institutionID string) string { return "webhook:" + institutionID }

// Tick delivers the notices due now and returns how many it tried. The
// claimed notices are each the oldest pending of their link, so sending
// them side by side keeps every link's order.
func (d *Deliverer) Tick(ctx context.Context) (int, error) {
	now := d.now()
	leaseUntil := now.Add(lease).Truncate(time.Microsecond) // as the store keeps it: the lease's token
	ns, err := d.store.ClaimNotices(ctx, now, leaseUntil, claimBatch)
	if err != nil {
		return 0, fmt.Errorf("webhook: claim: %w", err)
	}
	// Each institution's endpoint is read and its secrets opened once per
	// batch, not once per notice.
	targets := map[string]target{}
	for _, n := range ns {
		if _, ok := targets[n.InstitutionID]; !ok {
			targets[n.InstitutionID] = d.target(ctx, n.InstitutionID, now)
		}
	}
	outcomes := make([]store.Outcome, len(ns))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, n := range ns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var o store.Outcome
			if d.now().Add(requestTimeout).After(leaseUntil) {
				// No time left in the lease for a whole request: leave it
				// for the next claim rather than risk sending it twice.
				o = store.Outcome{Attempts: n.Attempts, NextAt: d.now()}
			} else {
				o = d.deliver(ctx, n, targets[n.InstitutionID])
			}
			o.NoticeID, o.LeaseUntil = n.ID, leaseUntil
			d.report(n, o)
			if o.DeliveredAt.IsZero() {
				d.log.Warn("webhook: not delivered", "notice", n.ID, "institution", n.InstitutionID, "attempts", o.Attempts, "dead", !o.DeadAt.IsZero(), "err", o.Error)
			}
			outcomes[i] = o
		})
	}
	wg.Wait()
	// One transaction for the whole batch. Should it fail, the leases run
	// out and the notices go again: at least once, never lost.
	if err := d.store.SettleNotices(ctx, outcomes); err != nil {
		return len(ns), fmt.Errorf("webhook: settle %d notices: %w", len(ns), err)
	}
	return len(ns), nil
}

// Run calls Tick every interval, and whenever kicked, and sends what Send
// queues, until ctx ends. A full batch is followed by another at once.
func (d *Deliverer) Run(ctx context.Context, every time.Duration) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for range senders {
		wg.Go(func() { d.sender(ctx) })
	}
	wg.Go(func() { d.settler(ctx) })
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := d.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("webhook: deliver", "err", err)
		}
		if n == claimBatch && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.kick:
		}
	}
}

// Envelope is the body of every webhook.
type Envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// signStandard is the webhook-signature of a Standard Webhooks delivery,
// one entry per live secret, made inside the vault.
func signStandard(id string, now time.Time, body []byte, secrets []*vault.MACKey) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("no webhook secret to sign with")
	}
	content := bankapi.WebhookSignedContent(id, now, body)
	macs := make([][]byte, len(secrets))
	for i, s := range secrets {
		key, err := s.Whsec()
		if err != nil {
			return "", err
		}
		macs[i] = key.Sum(sha256.New, content)
	}
	return bankapi.WebhookSignature(macs...), nil
}

// target is where an institution's notices go and the secrets that sign
// them; unusable (why says so) when there is no enabled endpoint.
type target struct {
	url     string
	format  string // "" for Standard Webhooks
	secrets []*vault.MACKey
	why     string
}

func (d *Deliverer) target(ctx context.Context, institutionID string, now time.Time) target {
	ep, err := d.store.WebhookEndpoint(ctx, institutionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return target{why: "no webhook endpoint registered"}
	case err != nil:
		return target{why: "endpoint unavailable"}
	case !ep.DisabledAt.IsZero():
		return target{why: "endpoint disabled: " + ep.DisabledReason}
	}
	sealedSecrets := [][]byte{ep.Secret}
	if len(ep.PreviousSecret) > 0 && now.Before(ep.PreviousUntil) {
		sealedSecrets = append(sealedSecrets, ep.PreviousSecret) // a rotation's overlap: both sign
	}
	if ep.Format != "" && d.formats[ep.Format] == nil {
		return target{why: "endpoint format " + ep.Format + " unknown to this node"}
	}
	t := target{url: ep.URL, format: ep.Format}
	for _, sealed := range sealedSecrets {
		key, err := d.keyring.PlatformMACKey(SecretRecord(institutionID), sealed)
		if err != nil {
			return target{why: "webhook secret cannot be opened"}
		}
		t.secrets = append(t.secrets, key)
	}
	return t
}

func (d *Deliverer) deliver(ctx context.Context, n store.Notice, t target) store.Outcome {
	now := d.now()
	if t.why != "" {
		return store.Outcome{Attempts: n.Attempts, NextAt: now.Add(holdNoEndpoint), Error: t.why}
	}
	hold := store.Outcome{Attempts: n.Attempts, NextAt: now.Add(holdNoEndpoint)}
	var err error
	payload := n.Payload
	if n.CustomerID != "" {
		// The customer's words or answer, sealed under their key. If the
		// key is gone (history cleared) there is nothing left to send.
		payload, err = d.keyring.Open(ctx, vault.ConversationKey(n.CustomerID, n.InstitutionID), n.ID, n.Sealed)
		switch {
		case errors.Is(err, vault.ErrOpen), errors.Is(err, vault.ErrNoKey):
			return store.Outcome{Attempts: n.Attempts, DeadAt: now, Error: "payload cannot be opened"}
		case err != nil:
			// The store or the keyring failed for now: try again shortly.
			hold.Error = "payload not opened yet: " + err.Error()
			return hold
		}
	}
	var body []byte
	var signed http.Header
	if t.format == "" {
		body, _ = json.Marshal(Envelope{ID: n.ID, Type: n.Type, CreatedAt: n.CreatedAt, Data: payload})
		sig, err := signStandard(n.ID, now, body, t.secrets)
		if err != nil {
			hold.Error = err.Error()
			return hold
		}
		signed = http.Header{}
		signed.Set(bankapi.HeaderWebhookID, n.ID)
		signed.Set(bankapi.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
		signed.Set(bankapi.HeaderWebhookSignature, sig)
	} else {
		var send bool
		body, signed, send, err = d.formats[t.format](n, payload, t.secrets, now)
		switch {
		case err != nil:
			// A notice this format cannot say is a defect, not the bank's
			// fault: it is kept, and said once the node can.
			hold.Error = "format " + t.format + ": " + err.Error()
			return hold
		case !send:
			return store.Outcome{Attempts: n.Attempts, DeliveredAt: now}
		}
	}
	attempts := n.Attempts + 1
	out := store.Outcome{Attempts: attempts}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return d.retry(out, now, 0, "bad endpoint URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "OpenTeller-Webhooks/1")
	for k, v := range signed {
		req.Header[k] = v
	}
	resp, err := d.client.Do(req)
	if err != nil {
		msg := "request failed"
		if errors.Is(err, ErrForbiddenAddress) {
			msg = ErrForbiddenAddress.Error()
		}
		d.log.Debug("webhook: request failed", "notice", n.ID, "err", err)
		return d.retry(out, now, 0, msg)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		out.DeliveredAt = now
		return out
	case resp.StatusCode == http.StatusGone:
		// The bank says the endpoint is gone: stop sending until it
		// registers one again; the notice waits, it is not lost.
		if err := d.store.DisableWebhookEndpoint(ctx, n.InstitutionID, "410 Gone", now); err != nil {
			d.log.Error("webhook: disable endpoint", "institution", n.InstitutionID, "err", err)
		}
		hold.Attempts, hold.Error = attempts, "410 Gone: endpoint disabled"
		return hold
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return d.retry(out, now, retryAfter(resp.Header.Get("Retry-After"), now), resp.Status)
	}
	return d.retry(out, now, 0, resp.Status)
}

// retry schedules the next attempt, or dead-letters after the last.
func (d *Deliverer) retry(o store.Outcome, now time.Time, after time.Duration, why string) store.Outcome {
	o.Error = why
	if o.Attempts >= len(Schedule) {
		o.DeadAt = now
		return o
	}
	wait := Schedule[o.Attempts]
	if after > wait {
		wait = after
	}
	o.NextAt = now.Add(wait)
	return o
}

func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(min(max(s, 0), int(maxRetryAfter/time.Second))) * time.Second // capped before it can overflow
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

package auth

import (
	"container/list"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Sign-in throttling limits.
const (
	throttleWindow   = 15 * time.Minute
	maxEmailFailures = 5  // per email per window; then the email is locked for the rest of it
	maxIPFailures    = 30 // per client address per window
	maxIPSignUps     = 10 // sign-ups per client address per window: each costs an argon2id hash
	// Password resets: asking, per client address and per email (beyond
	// that, the answer is the same and no mail goes out), and completing
	// with a link that does not work, per client address.
	maxIPResetAsks    = 10
	maxEmailResetAsks = 3
	maxIPResetMisses  = 30
	// maxThrottleKeys bounds each limiter's memory (a window is ~150 bytes).
	maxThrottleKeys = 100_000
)

// throttle limits failed sign-ins per email and per client address, in fixed
// windows that start at a key's first failure.
//
// It is in memory and per node: behind a load balancer each node counts on
// its own, so the effective limits are multiplied by the number of nodes. A
// limiter kept in the store is the multi-node follow-up.
//
// Memory is bounded: expired windows are dropped as time passes, and when a
// limiter is full the oldest window is evicted first (it is the one closest to
// expiring anyway). Flooding it early-releases only the oldest locks, and the
// per-address limit makes that need thousands of addresses.
//
// An attempt is counted before the password is checked and forgiven if it
// succeeds, so concurrent guesses cannot slip past a limit between the check
// and the verdict.
type throttle struct {
	now func() time.Time

	mu      sync.Mutex
	emails  *limiter
	ips     *limiter
	signups *limiter
	// Password resets (reset.go).
	resetIPs, resetEmails, resetMisses *limiter
	// Passkey sign-ins begun (passkey.go): each keeps a challenge in the
	// store for a few minutes.
	passkeyBegins *limiter
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{
		now:    now,
		emails: newLimiter(maxEmailFailures, throttleWindow, maxThrottleKeys),
		ips:    newLimiter(maxIPFailures, throttleWindow, maxThrottleKeys),

		signups: newLimiter(maxIPSignUps, throttleWindow, maxThrottleKeys),

		resetIPs:    newLimiter(maxIPResetAsks, throttleWindow, maxThrottleKeys),
		resetEmails: newLimiter(maxEmailResetAsks, throttleWindow, maxThrottleKeys),
		resetMisses: newLimiter(maxIPResetMisses, throttleWindow, maxThrottleKeys),

		passkeyBegins: newLimiter(maxIPPasskeyBegins, throttleWindow, maxThrottleKeys),
	}
}

// passkeyBegin counts a passkey sign-in begun from ip, unless the address
// began too many, or is locked for failed sign-ins; then it says how long
// to wait.
func (t *throttle) passkeyBegin(ip string) (time.Duration, bool) {
	ipk := ipKey(ip)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, blocked := t.ips.blocked(ipk, now); blocked {
		return w, false
	}
	if w, blocked := t.passkeyBegins.blocked(ipk, now); blocked {
		return w, false
	}
	t.passkeyBegins.fail(ipk, now)
	return 0, true
}

// passkeyAttempt reserves a passkey sign-in from ip: it counts like a
// failed password against the address (the same limit), never against an
// email (see passkey.go).
func (t *throttle) passkeyAttempt(ip string) attemptResult {
	ipk := ipKey(ip)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, blocked := t.ips.blocked(ipk, now); blocked {
		return attemptResult{wait: w}
	}
	return attemptResult{ok: true, locksIP: t.ips.fail(ipk, now)}
}

// passkeySucceeded forgives the attempt passkeyAttempt reserved; so does
// passkeyRelease, for one that was neither right nor wrong.
func (t *throttle) passkeySucceeded(ip string) { t.passkeyRelease(ip) }

func (t *throttle) passkeyRelease(ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ips.undo(ipKey(ip))
}

// resetAsk counts a request for a reset link for email from ip. ok is
// false when the address is over its limit (wait says for how long);
// send is false when the email has had its share of mail this window.
func (t *throttle) resetAsk(email, ip string) (wait time.Duration, ok, send bool) {
	ipk := ipKey(ip)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, blocked := t.resetIPs.blocked(ipk, now); blocked {
		return w, false, false
	}
	t.resetIPs.fail(ipk, now)
	if _, blocked := t.resetEmails.blocked(email, now); blocked {
		return 0, true, false
	}
	t.resetEmails.fail(email, now)
	return 0, true, true
}

// resetTry says whether ip may try a reset link now, or how long to wait.
func (t *throttle) resetTry(ip string) (time.Duration, bool) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	w, blocked := t.resetMisses.blocked(ipKey(ip), now)
	return w, !blocked
}

// resetMissed counts a reset link from ip that did not work.
func (t *throttle) resetMissed(ip string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.resetMisses.fail(ipKey(ip), now)
}

// forgetEmail clears the email's failed sign-ins: its password was just
// reset, through its mailbox.
func (t *throttle) forgetEmail(email string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.emails.forget(email)
}

// signUp counts a sign-up from ip, unless the address is over its limit;
// then it says how long to wait.
func (t *throttle) signUp(ip string) (time.Duration, bool) {
	ipk := ipKey(ip)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, blocked := t.signups.blocked(ipk, now); blocked {
		return w, false
	}
	t.signups.fail(ipk, now)
	return 0, true
}

// attemptResult is the outcome of throttle.attempt.
type attemptResult struct {
	ok bool // the attempt is reserved and may go ahead
	// When !ok: how long until it may be made again, and whether the email
	// (rather than the client address) is the cause.
	wait        time.Duration
	emailLocked bool
	// When ok: whether failing this attempt locks the email or the address.
	locksEmail, locksIP bool
}

// attempt reserves one sign-in attempt for email from ip, unless either is
// over its limit.
func (t *throttle) attempt(email, ip string) attemptResult {
	ipk := ipKey(ip)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, blocked := t.emails.blocked(email, now); blocked {
		return attemptResult{wait: w, emailLocked: true}
	}
	if w, blocked := t.ips.blocked(ipk, now); blocked {
		return attemptResult{wait: w}
	}
	return attemptResult{ok: true, locksEmail: t.emails.fail(email, now), locksIP: t.ips.fail(ipk, now)}
}

// succeeded records that the attempt reserved by attempt was right: the
// email's window is cleared and the attempt no longer counts against ip.
func (t *throttle) succeeded(email, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.emails.forget(email)
	t.ips.undo(ipKey(ip))
}

// release returns an attempt that was neither right nor wrong (the server
// failed before it could tell).
func (t *throttle) release(email, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.emails.undo(email)
	t.ips.undo(ipKey(ip))
}

// ipKey groups IPv6 clients by /64, the smallest block an ISP hands out, so
// one client cannot rotate through 2^64 addresses to reset its limit.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// limiter counts failures per key in fixed windows. It is not safe for
// concurrent use; throttle locks around it.
type limiter struct {
	limit  int
	window time.Duration
	max    int

	byKey map[string]*list.Element // → *failureWindow
	order *list.List               // oldest window start first
}

type failureWindow struct {
	key      string
	start    time.Time
	failures int
}

func newLimiter(limit int, window time.Duration, max int) *limiter {
	return &limiter{limit: limit, window: window, max: max, byKey: make(map[string]*list.Element), order: list.New()}
}

// prune drops windows that have ended. Windows are ordered by start, so it
// stops at the first live one.
func (l *limiter) prune(now time.Time) {
	for e := l.order.Front(); e != nil; e = l.order.Front() {
		w := e.Value.(*failureWindow)
		if now.Sub(w.start) < l.window {
			return
		}
		l.remove(e)
	}
}

func (l *limiter) remove(e *list.Element) {
	delete(l.byKey, e.Value.(*failureWindow).key)
	l.order.Remove(e)
}

// live returns key's window if it has one that has not ended.
func (l *limiter) live(key string, now time.Time) *failureWindow {
	l.prune(now)
	e := l.byKey[key]
	if e == nil {
		return nil
	}
	return e.Value.(*failureWindow)
}

func (l *limiter) blocked(key string, now time.Time) (time.Duration, bool) {
	w := l.live(key, now)
	if w == nil || w.failures < l.limit {
		return 0, false
	}
	return w.start.Add(l.window).Sub(now), true
}

// fail counts a failure for key and reports whether it reached the limit.
func (l *limiter) fail(key string, now time.Time) bool {
	w := l.live(key, now)
	if w == nil {
		for len(l.byKey) >= l.max {
			l.remove(l.order.Front())
		}
		w = &failureWindow{key: key, start: now}
		l.byKey[key] = l.order.PushBack(w)
	}
	w.failures++
	return w.failures == l.limit
}

// undo takes back one failure counted by fail.
func (l *limiter) undo(key string) {
	e := l.byKey[key]
	if e == nil {
		return
	}
	w := e.Value.(*failureWindow)
	if w.failures--; w.failures <= 0 {
		l.remove(e)
	}
}

func (l *limiter) forget(key string) {
	if e := l.byKey[key]; e != nil {
		l.remove(e)
	}
}

func (l *limiter) len() int { return len(l.byKey) }

// Throttle is the sign-in throttle for other doors than the customers'
// (the agent console): the same limits by email and by client address.
type Throttle struct{ t *throttle }

// NewThrottle returns a Throttle on the clock now.
func NewThrottle(now func() time.Time) *Throttle { return &Throttle{newThrottle(now)} }

// Attempt reserves an attempt for email from r's client, or says how long
// to wait.
func (t *Throttle) Attempt(email string, r *http.Request) (time.Duration, bool) {
	a := t.t.attempt(email, clientIP(r))
	return a.wait, a.ok
}

// Succeeded forgives the attempt: it was right.
func (t *Throttle) Succeeded(email string, r *http.Request) { t.t.succeeded(email, clientIP(r)) }

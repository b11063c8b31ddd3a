// The console's presence: whether its member is there to be given work.
// Each open console holds one WebSocket (/console/api/presence); while it
// lives the server keeps the member online or away, and the moment it
// closes (the tab closed, the network went) the member is offline and no
// conversation is assigned to them.
//
// Away by itself: while the console is hidden (another tab, a minimised
// window), and after IDLE_AFTER without a key, click, touch or scroll;
// online again at the next one. A member who chooses "Away" stays away
// until they choose "Online".

export const IDLE_AFTER = 5 * 60 * 1000;
const CHECK_EVERY = 15 * 1000;
const BASE_DELAY = 500;
const MAX_DELAY = 15000;
const CLOSE_SIGNED_OUT = 4401;

// createPresence({onChange, onSignedOut}) → {start, stop, choose}
// onChange({status: 'online'|'away'|'offline', reason: ''|'chosen'|'hidden'|'idle', choice})
// is called whenever what the server holds, or why, changes.
export function createPresence({ onChange, onSignedOut }) {
  let socket = null;
  let timer = null;
  let checker = null;
  let attempt = 0;
  let running = false;
  let choice = 'online';
  let lastActive = Date.now();
  let sent = ''; // the status last sent on this socket
  let kept = 'offline'; // what the server last confirmed

  function reason() {
    if (choice === 'away') return 'chosen';
    if (document.visibilityState === 'hidden') return 'hidden';
    if (Date.now() - lastActive >= IDLE_AFTER) return 'idle';
    return '';
  }
  const wanted = () => (reason() ? 'away' : 'online');

  function report() {
    onChange({ status: kept, reason: kept === 'away' ? reason() : '', choice });
  }

  // check sends the status the console should have, when it changed.
  function check() {
    if (socket && socket.readyState === WebSocket.OPEN && wanted() !== sent) {
      sent = wanted();
      socket.send(JSON.stringify({ type: 'status', status: sent }));
    }
  }

  function active() {
    const idle = Date.now() - lastActive >= IDLE_AFTER;
    lastActive = Date.now();
    if (idle) check();
  }

  let lastMove = 0;
  function moved() {
    if (Date.now() - lastMove < 1000) return;
    lastMove = Date.now();
    active();
  }

  function visibility() {
    check();
    report();
  }

  function open() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/console/api/presence`);
    socket = ws;
    sent = '';
    ws.onopen = () => {
      attempt = 0;
      check();
    };
    ws.onmessage = (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if (msg?.type === 'presence') {
        kept = msg.status;
        report();
        check(); // it may have changed again on the way
      }
    };
    ws.onclose = (e) => {
      if (socket !== ws) return;
      socket = null;
      kept = 'offline';
      report();
      if (!running) return;
      if (e.code === CLOSE_SIGNED_OUT) {
        stop();
        onSignedOut();
        return;
      }
      const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** attempt);
      attempt++;
      timer = setTimeout(() => { timer = null; if (running && !socket) open(); }, ceiling / 2 + Math.random() * (ceiling / 2));
    };
  }

  // A page put away in the back/forward cache closes its stream, so the
  // member is offline; it comes back with the page.
  function hide() { if (running) { stop(); running = 'paused'; } }
  function show(e) { if (e.persisted && running === 'paused') { running = false; start(); } }

  const activity = ['keydown', 'pointerdown', 'wheel', 'touchstart', 'focus'];
  function start() {
    if (running === true) return;
    running = true;
    attempt = 0;
    lastActive = Date.now();
    for (const type of activity) window.addEventListener(type, active, { capture: true, passive: true });
    window.addEventListener('pointermove', moved, { passive: true });
    document.addEventListener('visibilitychange', visibility);
    window.addEventListener('pagehide', hide);
    window.addEventListener('pageshow', show);
    checker = setInterval(() => { check(); if (kept === 'away') report(); }, CHECK_EVERY);
    open();
  }

  function stop() {
    running = false;
    clearTimeout(timer);
    clearInterval(checker);
    timer = null;
    for (const type of activity) window.removeEventListener(type, active, { capture: true });
    window.removeEventListener('pointermove', moved);
    document.removeEventListener('visibilitychange', visibility);
    const ws = socket;
    socket = null;
    if (ws) ws.close(1000);
    kept = 'offline';
    report();
  }

  // choose records the member's own choice: 'online' (away only when
  // hidden or idle) or 'away' (until they choose online).
  function choose(status) {
    choice = status === 'away' ? 'away' : 'online';
    lastActive = Date.now();
    check();
    report();
  }

  return { start, stop, choose };
}

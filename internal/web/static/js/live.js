// A live connection: the messenger's (/app/ws, resuming from the cursors
// after every (re)connect) or the console's stream of one conversation.
// Reconnects with exponential backoff and jitter, and reports the state so
// the page can show "Reconnecting…". Delivery is at least once; the page
// drops sequences already seen.

const BASE_DELAY = 500;
const MAX_DELAY = 15000;
const CLOSE_SIGNED_OUT = 4401;

// createLive({path, cursors, onMessage, onState, onSignedOut, onClosed, beforeRetry})
// path() → the socket's path, asked at each (re)connect (default /app/ws);
// cursors() → {"<conversation id>": lastSeq}, sent as "resume" when given;
// onState('connected'|'down'); onClosed: {closeCode: fn} for closes that
// end it for good; beforeRetry() → Promise<boolean>, false to give up.
export function createLive({ path = () => '/app/ws', cursors = null, onMessage, onState = () => {}, onSignedOut, onClosed = {}, beforeRetry }) {
  let socket = null;
  let timer = null;
  let attempt = 0;
  let running = false;

  function url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${path()}`;
  }

  function open() {
    const ws = new WebSocket(url());
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      onState('connected');
      if (cursors) ws.send(JSON.stringify({ type: 'resume', cursors: cursors() }));
    };
    ws.onmessage = (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if (msg && typeof msg === 'object') onMessage(msg);
    };
    ws.onclose = (e) => {
      if (socket !== ws) return;
      socket = null;
      if (!running) return;
      if (e.code === CLOSE_SIGNED_OUT) {
        stop();
        onSignedOut();
        return;
      }
      if (onClosed[e.code]) {
        stop();
        onClosed[e.code]();
        return;
      }
      onState('down');
      schedule();
    };
  }

  function schedule() {
    const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** attempt);
    attempt++;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2); // "equal jitter"
    timer = setTimeout(retry, delay);
  }

  async function retry() {
    timer = null;
    if (!running) return;
    const keepGoing = beforeRetry ? await beforeRetry().catch(() => true) : true;
    if (running && keepGoing && !socket) open();
  }

  function start() {
    if (running) return;
    running = true;
    attempt = 0;
    open();
  }

  function stop() {
    running = false;
    clearTimeout(timer);
    timer = null;
    const ws = socket;
    socket = null;
    if (ws) ws.close(1000);
  }

  // retryNow skips the wait, e.g. when the browser says it is back online.
  function retryNow() {
    if (running && timer) {
      clearTimeout(timer);
      retry();
    }
  }

  return { start, stop, retryNow };
}

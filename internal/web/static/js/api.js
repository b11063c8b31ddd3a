// The customer web API (/app/api): JSON in and out, the CSRF token on every
// request that changes state, and {"error":{code,message}} thrown as ApiError.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let csrfToken = '';
let onSignedOut = () => {};

export function setCsrfToken(token) {
  csrfToken = token || '';
}

// whenSignedOut registers what happens when any request answers 401.
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

// api('POST', '/signin', body, {expect401: true}). With expect401 a 401 is
// only thrown (a wrong password), not treated as an ended session.
export async function api(method, path, body, { expect401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(`/app/api${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'network', 'We couldn’t reach OpenTeller. Check your connection and try again.');
  }
  if (res.status === 204) return null;
  const payload = await res.json().catch(() => null);
  if (res.ok) return payload;

  const err = payload?.error || {};
  let message = err.message || `Something went wrong (HTTP ${res.status}). Please try again.`;
  if (res.status === 429) message = tooManyAttempts(res.headers.get('Retry-After'), err.message);
  const error = new ApiError(res.status, err.code || 'http_' + res.status, message);
  if (res.status === 401 && !expect401) onSignedOut(error);
  throw error;
}

function tooManyAttempts(retryAfter, serverMessage) {
  const seconds = Number(retryAfter);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    return serverMessage || 'Too many attempts. Please wait a few minutes, then try again.';
  }
  const wait = seconds < 90 ? `${Math.ceil(seconds)} seconds` : `${Math.ceil(seconds / 60)} minutes`;
  return `Too many attempts. For your security, please wait ${wait} and try again.`;
}

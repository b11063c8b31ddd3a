// The customer web API (/app/api): JSON in and out, the CSRF token on every
// request that changes state, and {"error":{code,message}} thrown as ApiError.
// The server's messages are English; in another language an error is told
// by its code, from the catalogue (error.<code>), where it has one.
import { has, language, t } from './i18n.js';

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

// whenSignedOut registers what happens when any request answers 401, or
// when signedOutHere is called: fn gets the error, or {note}.
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

// signedOutHere is for an answer that says it ended this page's session
// (a passkey removed from the device it signed in): the page goes to
// sign-in, where note says why.
export function signedOutHere(note) {
  onSignedOut({ note });
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
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (res.status === 204) return null;
  const payload = await res.json().catch(() => null);
  if (res.ok) return payload;

  const err = payload?.error || {};
  let message = err.message ? said(err.code, err.message) : t('error.http', { status: res.status });
  if (res.status === 429) message = tooManyAttempts(res.headers.get('Retry-After'), err.message);
  const error = new ApiError(res.status, err.code || 'http_' + res.status, message);
  if (res.status === 401 && !expect401) onSignedOut(error);
  throw error;
}

// said is what a person reads for the server's error: its own words in
// English (the more precise), else the catalogue's for the code.
export function said(code, serverMessage) {
  if (language() !== 'en' && code && has(`error.${code}`)) return t(`error.${code}`);
  return serverMessage;
}

function tooManyAttempts(retryAfter, serverMessage) {
  const seconds = Number(retryAfter);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    return serverMessage ? said('too_many_attempts', serverMessage) : t('error.too_many_attempts');
  }
  return seconds < 90
    ? t('error.wait_seconds', { count: Math.ceil(seconds) })
    : t('error.wait_minutes', { count: Math.ceil(seconds / 60) });
}

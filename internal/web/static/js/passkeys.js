// Passkeys (WebAuthn): the browser's half of adding one and of signing in
// with one. The server chooses every option and checks every answer
// (/app/api/passkeys/…); this file only carries them between the server's
// JSON and navigator.credentials, whose options and answers are binary.
// Errors come out as the API's (ApiError-like: code, message), in words
// a person can act on.
import { api, ApiError } from './api.js';
import { t } from './i18n.js';

// supported reports whether this browser can use passkeys at all.
export function supported() {
  return typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
}

const fromB64 = (s) => {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
};

const toB64 = (buf) => {
  const bytes = new Uint8Array(buf);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

const descriptors = (list) => (list || []).map((d) => ({ ...d, id: fromB64(d.id) }));

// origin is where passkeys of rpId work, when this page is elsewhere: a
// demo opened at 127.0.0.1 makes them for localhost, and browsers take no
// IP address as a passkey's domain.
function wrongPlace(rpId) {
  const host = location.hostname;
  if (!rpId || host === rpId || host.endsWith(`.${rpId}`)) return '';
  return `${location.protocol}//${rpId}${location.port ? `:${location.port}` : ''}`;
}

// failure turns what navigator.credentials threw into an ApiError.
function failure(err, origin) {
  if (err instanceof ApiError) return err;
  switch (err?.name) {
    case 'NotAllowedError': // cancelled, timed out, or no passkey chosen
    case 'AbortError':
      return new ApiError(0, 'cancelled', t('passkey.cancelled'));
    case 'InvalidStateError': // create(): this authenticator has one already
      return new ApiError(0, 'passkey_exists', t('passkey.exists_here'));
    case 'SecurityError':
      return new ApiError(0, 'wrong_place', t('passkey.wrong_host', { origin: origin || location.origin }));
    default:
      return new ApiError(0, 'passkey_failed', t('passkey.failed'));
  }
}

function answer(cred) {
  const r = cred.response;
  const response = { clientDataJSON: toB64(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64(r.attestationObject);
    response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
  } else {
    response.authenticatorData = toB64(r.authenticatorData);
    response.signature = toB64(r.signature);
    if (r.userHandle) response.userHandle = toB64(r.userHandle);
  }
  return {
    id: cred.id,
    rawId: toB64(cred.rawId),
    type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    response,
    clientExtensionResults: cred.getClientExtensionResults?.() || {},
  };
}

// create runs the browser's part of adding a passkey, for the options
// the server gave (POST /passkeys/register/begin), and returns the
// answer to send back.
export async function create(options) {
  const pk = options.publicKey;
  const origin = wrongPlace(pk.rp?.id);
  if (origin) throw failure({ name: 'SecurityError' }, origin);
  try {
    const cred = await navigator.credentials.create({
      publicKey: {
        ...pk,
        challenge: fromB64(pk.challenge),
        user: { ...pk.user, id: fromB64(pk.user.id) },
        excludeCredentials: descriptors(pk.excludeCredentials),
      },
    });
    return answer(cred);
  } catch (err) {
    throw failure(err, origin);
  }
}

// signIn signs in with a passkey: usernameless, or for the account of
// email when one is given. It resolves with the account, as /signin does.
export async function signIn(email) {
  const options = await api('POST', '/passkeys/signin/begin', email ? { email } : {}, { expect401: true });
  const pk = options.publicKey;
  const origin = wrongPlace(pk.rpId);
  if (origin) throw failure({ name: 'SecurityError' }, origin);
  let cred;
  try {
    cred = await navigator.credentials.get({
      publicKey: { ...pk, challenge: fromB64(pk.challenge), allowCredentials: descriptors(pk.allowCredentials) },
    });
  } catch (err) {
    throw failure(err, origin);
  }
  try {
    return await api('POST', '/passkeys/signin/finish', { credential: answer(cred) }, { expect401: true });
  } catch (err) {
    // A passkey the server no longer knows (removed) is one the browser
    // may stop offering, where it can be told.
    if (err.code === 'passkey_unknown' && typeof PublicKeyCredential.signalUnknownCredential === 'function') {
      PublicKeyCredential.signalUnknownCredential({ rpId: pk.rpId, credentialId: toB64(cred.rawId) }).catch(() => {});
    }
    throw err;
  }
}

// Checking the access log in the browser, trusting nothing the server says
// about it: RFC 9162 Merkle inclusion and consistency proofs, C2SP
// checkpoints, and their Ed25519 signed notes, with WebCrypto. The same
// algorithms as internal/tlog, checked against the same vectors.

const enc = new TextEncoder();

async function sha256(...parts) {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(len);
  let off = 0;
  for (const p of parts) { buf.set(p, off); off += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

export function fromBase64(s) {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export const leafHash = (data) => sha256(Uint8Array.of(0), typeof data === 'string' ? enc.encode(data) : data);
const nodeHash = (l, r) => sha256(Uint8Array.of(1), l, r);

// Sizes stay below 2^53; halving by division keeps them exact where
// JavaScript's bit operators would cut them to 32 bits.
const odd = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

// verifyInclusion reports whether leaf is at index in the tree of size
// whose root is root (RFC 9162, 2.1.3.2).
export async function verifyInclusion(leaf, index, size, proof, root) {
  if (!(index >= 0 && index < size) || leaf.length !== 32 || root.length !== 32) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0 || p.length !== 32) return false;
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equal(r, root);
}

// verifyConsistency reports whether the tree of size1 with root1 is a
// prefix of the tree of size2 with root2 (RFC 9162, 2.1.4.2).
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  if (!(size1 > 0 && size1 <= size2)) return false;
  if (size1 === size2) return proof.length === 0 && equal(root1, root2);
  if (proof.length === 0 || proof.some((p) => p.length !== 32)) return false;
  const path = Number.isInteger(Math.log2(size1)) ? [root1, ...proof] : proof; // a power of two: root1 is the first node
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) { fn = half(fn); sn = half(sn); }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equal(fr, root1) && equal(sr, root2);
}

// parseVerifierKey reads "<name>+<hex id>+<base64(0x01 ‖ key)>".
export function parseVerifierKey(vkey) {
  // The key's base64 may itself hold '+': split at the first two only.
  const m = /^([^+]+)\+([^+]+)\+(.+)$/.exec(String(vkey));
  const [, name, id, key] = m || [];
  const raw = fromBase64(key || '');
  if (!name || !/^[0-9a-f]{8}$/.test(id || '') || raw.length !== 33 || raw[0] !== 1) throw new Error('not an Ed25519 verifier key');
  return { name, id: parseInt(id, 16), pub: raw.slice(1) };
}

async function keyId(name, pub) {
  const h = await sha256(enc.encode(`${name}\n`), Uint8Array.of(1), pub);
  return ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
}

// openNote returns a signed note's text once a signature by the key
// verifies over it; it throws otherwise.
export async function openNote(note, vkey) {
  const { name, id, pub } = parseVerifierKey(vkey);
  if (await keyId(name, pub) !== id) throw new Error('the verifier key does not match its id');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new Error('not a signed note');
  const text = note.slice(0, split + 1);
  const key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
  for (const line of note.slice(split + 2).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const raw = fromBase64(m[2]);
    const sigId = ((raw[0] << 24) | (raw[1] << 16) | (raw[2] << 8) | raw[3]) >>> 0;
    if (raw.length !== 68 || sigId !== id) continue;
    if (await crypto.subtle.verify({ name: 'Ed25519' }, key, raw.slice(4), enc.encode(text))) return text;
  }
  throw new Error('no valid signature by the log’s key');
}

// parseCheckpoint reads "<origin>\n<size>\n<base64 root>\n…".
export function parseCheckpoint(text) {
  const [origin, size, root] = text.split('\n');
  const n = Number(size);
  const r = fromBase64(root || '');
  if (!origin || !/^[0-9]+$/.test(size) || String(n) !== size || !Number.isSafeInteger(n) || r.length !== 32) throw new Error('not a checkpoint');
  return { origin, size: n, root: r };
}

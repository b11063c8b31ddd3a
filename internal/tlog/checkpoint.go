package tlog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Checkpoint is the log's size and root under a name (its origin), as the
// C2SP tlog-checkpoint format writes it:
//
//	<origin>\n<size>\n<base64 root>\n
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   Hash
}

// Text is the checkpoint's body, the text a note signs.
func (c Checkpoint) Text() string {
	return c.Origin + "\n" + strconv.FormatUint(c.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(c.Root[:]) + "\n"
}

// ErrCheckpoint is returned for a checkpoint that does not parse.
var ErrCheckpoint = errors.New("tlog: malformed checkpoint")

// ParseCheckpoint reads a checkpoint's body. Extension lines after the
// root are allowed by the format and ignored here.
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 3 || !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, ErrCheckpoint
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	size, err := strconv.ParseUint(strings.TrimSuffix(lines[1], "\n"), 10, 64)
	if origin == "" || err != nil || strings.TrimSuffix(lines[1], "\n") != strconv.FormatUint(size, 10) {
		return Checkpoint{}, ErrCheckpoint
	}
	root, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(root) != sha256.Size {
		return Checkpoint{}, ErrCheckpoint
	}
	return Checkpoint{Origin: origin, Size: size, Root: Hash(root)}, nil
}

// Signed notes (C2SP signed-note): the text, a blank line, then one line
// per signature, "— <key name> <base64(key id ‖ signature)>". An Ed25519
// key's id is the first four bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public
// key).

const sigPrefix = "\u2014 " // an em dash and a space

// KeyID is the key id of an Ed25519 key in signed notes.
func KeyID(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{0x01})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil)[:4])
}

// VerifierKey is the public key in the signed-note verifier key format,
// "<name>+<hex key id>+<base64(0x01 ‖ key)>", for publishing.
func VerifierKey(name string, pub ed25519.PublicKey) string {
	return fmt.Sprintf("%s+%08x+%s", name, KeyID(name, pub), base64.StdEncoding.EncodeToString(append([]byte{0x01}, pub...)))
}

// Sign makes a signed note of text (which must end in a newline) with the
// signature sign returns over it.
func Sign(text, name string, pub ed25519.PublicKey, sign func(msg []byte) []byte) (string, error) {
	if !strings.HasSuffix(text, "\n") || strings.Contains(name, " ") || strings.Contains(name, "+") || name == "" {
		return "", errors.New("tlog: a note's text ends in a newline, and its key name has no spaces or '+'")
	}
	sig := sign([]byte(text))
	var id [4]byte
	binary.BigEndian.PutUint32(id[:], KeyID(name, pub))
	return text + "\n" + sigPrefix + name + " " + base64.StdEncoding.EncodeToString(append(id[:], sig...)) + "\n", nil
}

// ErrSignature is returned for a note that no signature of the key
// verifies.
var ErrSignature = errors.New("tlog: no valid signature by the key")

// Open returns the text of a signed note once a signature by name's key
// verifies over it. Signatures by other keys are ignored.
func Open(note, name string, pub ed25519.PublicKey) (string, error) {
	i := strings.LastIndex(note, "\n\n")
	if i < 0 {
		return "", ErrCheckpoint
	}
	text, sigs := note[:i+1], note[i+2:]
	if !strings.HasSuffix(sigs, "\n") {
		return "", ErrCheckpoint
	}
	want := KeyID(name, pub)
	for _, line := range strings.Split(strings.TrimSuffix(sigs, "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, sigPrefix)
		if !ok {
			return "", ErrCheckpoint
		}
		who, b64, ok := strings.Cut(rest, " ")
		if !ok || who != name {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != 4+ed25519.SignatureSize || binary.BigEndian.Uint32(raw[:4]) != want {
			continue
		}
		if ed25519.Verify(pub, []byte(text), raw[4:]) {
			return text, nil
		}
	}
	return "", ErrSignature
}

// OpenCheckpoint opens a signed checkpoint note and parses it; its origin
// must be the expected one.
func OpenCheckpoint(note, origin, name string, pub ed25519.PublicKey) (Checkpoint, error) {
	text, err := Open(note, name, pub)
	if err != nil {
		return Checkpoint{}, err
	}
	c, err := ParseCheckpoint(text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != origin {
		return Checkpoint{}, fmt.Errorf("%w: origin %q, want %q", ErrCheckpoint, c.Origin, origin)
	}
	return c, nil
}

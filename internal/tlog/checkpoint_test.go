package tlog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// TestSignedNoteVector checks the note format against the example in the
// signed-note specification's reference implementation (golang.org/x/mod
// sumdb/note): its verifier key, and its signed message.
func TestSignedNoteVector(t *testing.T) {
	const vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
	const msg = "If you think cryptography is the answer to your problem,\n" +
		"then you don't know what your problem is.\n" +
		"\n" +
		"— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
	raw, _ := base64.StdEncoding.DecodeString(strings.Split(vkey, "+")[2])
	pub := ed25519.PublicKey(raw[1:])
	if got := VerifierKey("PeterNeumann", pub); got != vkey {
		t.Fatalf("verifier key %s, want %s", got, vkey)
	}
	text, err := Open(msg, "PeterNeumann", pub)
	if err != nil || !strings.HasPrefix(text, "If you think") {
		t.Fatalf("open: %q %v", text, err)
	}
	if _, err := Open(strings.Replace(msg, "problem,", "problem;", 1), "PeterNeumann", pub); err == nil {
		t.Fatal("an edited note verified")
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	c := Checkpoint{Origin: "openteller.example/access", Size: 42, Root: sha256.Sum256([]byte("x"))}
	note, err := Sign(c.Text(), "openteller-access", pub, func(m []byte) []byte { return ed25519.Sign(priv, m) })
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenCheckpoint(note, c.Origin, "openteller-access", pub)
	if err != nil || got != c {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	for name, bad := range map[string]func() (Checkpoint, error){
		"another key":    func() (Checkpoint, error) { return OpenCheckpoint(note, c.Origin, "openteller-access", otherPub) },
		"another origin": func() (Checkpoint, error) { return OpenCheckpoint(note, "elsewhere", "openteller-access", pub) },
		"a bigger size": func() (Checkpoint, error) {
			return OpenCheckpoint(strings.Replace(note, "\n42\n", "\n43\n", 1), c.Origin, "openteller-access", pub)
		},
		"no signature": func() (Checkpoint, error) { return OpenCheckpoint(c.Text(), c.Origin, "openteller-access", pub) },
	} {
		if _, err := bad(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, text := range []string{"", "o\n1\n", "o\n01\n" + base64.StdEncoding.EncodeToString(c.Root[:]) + "\n", "o\n1\nnotbase64\n", "\n1\n" + base64.StdEncoding.EncodeToString(c.Root[:]) + "\n"} {
		if _, err := ParseCheckpoint(text); err == nil {
			t.Errorf("parsed %q", text)
		}
	}
}

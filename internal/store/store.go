// Package store is OpenTeller's source of truth: institutions, customers,
// sessions, links and the sealed events of every conversation.
//
// Store is the narrow interface the rest of the platform sees; the sqlite and
// postgres packages implement it, and storetest holds the one conformance
// suite both must pass.
//
// What every implementation must keep true:
//   - A write that returned nil is durable: on disk, synced (DESIGN.md
//     invariant 1). Acknowledgements to banks rest on this.
//   - Per conversation, sequence numbers are gapless and increasing, and a
//     reader never sees seq n+1 without seq n (invariant 2).
//   - AppendEvents checks the link's consent (owner, status, expiry, scope)
//     inside the same transaction that stores the event, so a revocation that
//     has committed is never outrun by an event (invariant 4).
//   - The store never sees plaintext payloads: events arrive sealed by the
//     vault (invariant 3). It must never log what it stores.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openteller/openteller/internal/vault"
)

// Errors a Store returns. Callers test them with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrExists means a unique value (an email, an id) is taken.
	ErrExists = errors.New("store: already exists")
)

// Consent and idempotency outcomes of AppendEvents, per event.
var (
	ErrUnknownLink         = errors.New("store: unknown link")
	ErrConsentScope        = errors.New("store: scope not granted")
	ErrConsentExpired      = errors.New("store: link expired")
	ErrConsentRevoked      = errors.New("store: link revoked")
	ErrIdempotencyConflict = errors.New("store: event id reused with a different body")
	ErrAlreadyRevoked      = errors.New("store: link already revoked")
	ErrWiden               = errors.New("store: scopes can only be narrowed here")
	// ErrStaleKey: the event was sealed under a data key that has since
	// been replaced (its history cleared, maybe on another node). Nothing
	// was stored; seal it again under the current key.
	ErrStaleKey = errors.New("store: sealed under a replaced data key")
	// ErrPasswordChanged: the password changed while a sign-in checked it.
	ErrPasswordChanged = errors.New("store: the password changed meanwhile")
	// ErrCorrupt: a stored value is not what it must be (a hash of the wrong
	// length, a kept hash that disagrees): damage or tampering.
	ErrCorrupt = errors.New("store: a stored value is malformed or disagrees")
	// ErrKeyChanged: ClearHistory found another version of the data key
	// than the caller prepared for. Nothing changed; prepare again.
	ErrKeyChanged = errors.New("store: the data key changed meanwhile")
	// ErrOwnerChanged: SetOwner found the conversation with someone else.
	ErrOwnerChanged = errors.New("store: the conversation's owner changed meanwhile")
	// ErrBundle: another event of the same bundle (NewEvent.Bundle) was
	// refused or had been stored before, so this one was not stored.
	ErrBundle = errors.New("store: another event of its bundle was not stored")
)

// Keys keeps wrapped data keys and platform secrets (for the vault) and
// rewraps them when the root key turns (openteller keys).
type Keys interface {
	vault.KeyStore

	// Root key rotation (openteller keys): data keys and platform secrets
	// are wrapped again under the newest root key.
	//
	// DataKeysWrappedBelow lists up to limit data keys wrapped by a root
	// key older than version.
	DataKeysWrappedBelow(ctx context.Context, version, limit int) ([]vault.WrappedKey, error)
	// RewrapDataKey stores w, rewrapped, in place of the key of the same
	// owner and version wrapped by root key oldRoot; nothing if that key
	// changed meanwhile.
	RewrapDataKey(ctx context.Context, w vault.WrappedKey, oldRoot int) error
	// RootKeyUsage counts data keys by the root key version that wraps them.
	RootKeyUsage(ctx context.Context) (map[int]int, error)
	// PlatformSecrets returns every platform secret, sealed.
	PlatformSecrets(ctx context.Context) (map[string][]byte, error)
	// ReplacePlatformSecret swaps old for sealed under name, if old is
	// still what is stored.
	ReplacePlatformSecret(ctx context.Context, name string, old, sealed []byte) error
	// SetWebhookSecrets replaces an endpoint's sealed secrets (rewrapped),
	// changing nothing else about it.
	SetWebhookSecrets(ctx context.Context, institutionID string, secret, previous []byte) error
}

// Devices keeps customers' Web Push subscriptions (package push).
type Devices interface {
	// PutPushSubscription stores a device's Web Push subscription, or
	// replaces the one with the same id (the same endpoint), whoever's it
	// was: a device belongs to the customer who last turned its
	// notifications on (presenting the endpoint and its keys, which only the
	// device and its push service hold).
	PutPushSubscription(ctx context.Context, p PushSubscription) error
	// PushSubscriptions lists the subscriptions of these customers.
	PushSubscriptions(ctx context.Context, customerIDs []string) ([]PushSubscription, error)
	// DeletePushSubscription removes the customer's subscription with this
	// id; ErrNotFound if the customer has none such.
	DeletePushSubscription(ctx context.Context, customerID, id string) error
}

// Institutions keeps the banks and merchants: their OAuth endpoints, API
// keys, brand and menu.
type Institutions interface {
	CreateInstitution(ctx context.Context, in Institution) error
	Institution(ctx context.Context, id string) (Institution, error)
	Institutions(ctx context.Context) ([]Institution, error)
	// SetInstitutionEndpoints moves the institution's OAuth endpoints.
	SetInstitutionEndpoints(ctx context.Context, id, authorizeURL, tokenURL string) error

	// RotateAPIKey stores k as the institution's newest key and makes every
	// other key of the institution expire at oldKeysUntil (at once if that is
	// not in the future).
	RotateAPIKey(ctx context.Context, k APIKey, oldKeysUntil time.Time) error
	// APIKey returns the key with the given id, expired or not.
	APIKey(ctx context.Context, id string) (APIKey, error)
	// SetBrand replaces the institution's brand; ErrNotFound for an
	// unknown institution.
	SetBrand(ctx context.Context, b Brand) error
	// Brand returns the institution's brand with its logo; ErrNotFound
	// when it has none.
	Brand(ctx context.Context, institutionID string) (Brand, error)
	// Brands lists every brand, without the logos' bytes.
	Brands(ctx context.Context) ([]Brand, error)
	// PutMenu replaces the institution's conversation menu; Menu returns
	// it, ErrNotFound when it has none.
	PutMenu(ctx context.Context, m Menu) error
	Menu(ctx context.Context, institutionID string) (Menu, error)
}

// Accounts keeps customers, their sessions and what signing in needs beyond
// the password (package auth).
type Accounts interface {
	CreateCustomer(ctx context.Context, c Customer) error // ErrExists if the email is taken
	CustomerByEmail(ctx context.Context, email string) (Customer, error)
	Customer(ctx context.Context, id string) (Customer, error)
	// SetCustomerLanguage keeps the language the customer chose (a code
	// package i18n speaks; "" for none) with their account; ErrNotFound
	// for no such customer. The store keeps what it is given: the caller
	// checks the code.
	SetCustomerLanguage(ctx context.Context, customerID, lang string) error
	// CustomerLanguages maps each of these customers who chose a language
	// to it; a customer who chose none, or who does not exist, is left out.
	CustomerLanguages(ctx context.Context, customerIDs []string) (map[string]string, error)

	// CreateSession keeps a new session, if the customer's password hash is
	// still checked, the one their sign-in verified: ErrPasswordChanged
	// otherwise, so a sign-in racing a change of password cannot outlive it.
	// A session a passkey signs in (PasskeyID set) is kept only while that
	// passkey is on the customer's account: ErrNotFound otherwise, so a
	// sign-in racing the passkey's removal cannot outlive it either.
	CreateSession(ctx context.Context, s Session, checked string) error
	Session(ctx context.Context, idHash []byte) (Session, error) // ErrNotFound when missing or expired
	DeleteSession(ctx context.Context, idHash []byte) error
	// SetPassword replaces the customer's password hash and ends every
	// session of theirs but keep (the device that changed it), at once.
	SetPassword(ctx context.Context, customerID, hash string, keep []byte) error
	// SweepExpired deletes sessions, link attempts and password reset
	// tokens that expired before now, and returns how many rows went.
	SweepExpired(ctx context.Context, now time.Time) (int64, error)

	// Sign-in beyond the password (package auth; types in signin.go).
	//
	// CreateResetToken keeps a password reset token (its hash).
	CreateResetToken(ctx context.Context, t ResetToken) error
	// ResetPassword spends the reset token whose hash is tokenHash, if it
	// is unspent and unexpired at now: in one transaction it replaces its
	// customer's password hash, deletes every reset token of theirs and
	// ends every session of theirs. It returns the customer's id;
	// ErrNotFound, with nothing changed, for a token unknown, spent or
	// expired.
	ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time) (string, error)
	// Reauthenticated records that the customer of a live session proved
	// who they are again at at; ErrNotFound for no live session.
	Reauthenticated(ctx context.Context, idHash []byte, at time.Time) error
	// LastReauth is when the session's customer last did; zero if never.
	LastReauth(ctx context.Context, idHash []byte) (time.Time, error)
	// PutTOTP keeps a second factor being set up (ConfirmedAt zero),
	// replacing one being set up; ErrExists when the customer has one
	// confirmed.
	PutTOTP(ctx context.Context, t TOTP) error
	// TOTP returns the customer's second factor; ErrNotFound for none.
	TOTP(ctx context.Context, customerID string) (TOTP, error)
	// ConfirmTOTP turns on the second factor being set up, with step as
	// the last used, and replaces the recovery codes with codes (hashes),
	// in one transaction. ErrNotFound when none is being set up.
	ConfirmTOTP(ctx context.Context, customerID string, step int64, codes [][]byte, at time.Time) error
	// UseTOTPStep records that a code of step was accepted, unless one of
	// that step or a later one was (ErrCodeUsed); ErrNotFound when the
	// customer has no confirmed second factor.
	UseTOTPStep(ctx context.Context, customerID string, step int64) error
	// DeleteTOTP turns the second factor off and deletes the recovery codes.
	DeleteTOTP(ctx context.Context, customerID string) error
	// SetRecoveryCodes replaces the customer's recovery codes (hashes).
	SetRecoveryCodes(ctx context.Context, customerID string, codes [][]byte, at time.Time) error
	// UseRecoveryCode spends the unspent recovery code with this hash;
	// ErrNotFound when there is none.
	UseRecoveryCode(ctx context.Context, customerID string, hash []byte, at time.Time) error

	// Passkeys (WebAuthn credentials; types in signin.go).
	//
	// PutPasskeyCeremony keeps a ceremony begun, replacing one with the
	// same hash, and deletes every ceremony that expired before now.
	PutPasskeyCeremony(ctx context.Context, c PasskeyCeremony, now time.Time) error
	// TakePasskeyCeremony deletes the ceremony with this hash and returns
	// it, if it has not expired at now; ErrNotFound otherwise. Of two takes
	// of one ceremony, one gets it.
	TakePasskeyCeremony(ctx context.Context, hash []byte, now time.Time) (PasskeyCeremony, error)
	// AddPasskey keeps a customer's new passkey; ErrExists when its
	// credential id is on an account already.
	AddPasskey(ctx context.Context, p Passkey) error
	// Passkeys lists the customer's passkeys, oldest first.
	Passkeys(ctx context.Context, customerID string) ([]Passkey, error)
	// Passkey returns the passkey with this credential id, whoever's it
	// is; ErrNotFound for none.
	Passkey(ctx context.Context, id []byte) (Passkey, error)
	// UsePasskey records a sign-in with the customer's passkey id: its
	// signature counter is now signCount and its flags flags, at at. It
	// changes nothing and returns ErrCodeUsed when the stored counter is
	// not below signCount (unless both are zero): a replay, or a copied
	// authenticator; ErrNotFound when the customer has no such passkey
	// (it was removed).
	UsePasskey(ctx context.Context, customerID string, id []byte, signCount uint32, flags byte, at time.Time) error
	// DeletePasskey removes the customer's passkey and, in the same
	// transaction, ends every session it signed in; it returns the id
	// hashes of those that had not expired yet, so that the devices on
	// them can be signed out. ErrNotFound, with nothing changed, when the
	// customer has no passkey with this id.
	DeletePasskey(ctx context.Context, customerID string, id []byte) (ended [][]byte, err error)
}

// Console keeps what a bank's people work with: staff, their sessions and
// presence, assignments, notes, ratings, labels and canned responses.
type Console interface {
	// A bank's people (the console).
	CreateStaff(ctx context.Context, m Staff) error // ErrExists if the email is taken
	Staff(ctx context.Context, id string) (Staff, error)
	StaffByEmail(ctx context.Context, email string) (Staff, error)
	// DisableStaff disables the member of the institution and ends their
	// sessions at once, in one transaction. ErrNotFound unless it is theirs.
	DisableStaff(ctx context.Context, institutionID, id string, at time.Time) error
	// CreateStaffSession keeps a new console session, if the member's
	// password hash is still checked, the one their sign-in verified:
	// ErrPasswordChanged otherwise, so a sign-in racing a change of
	// password cannot outlive it.
	CreateStaffSession(ctx context.Context, s StaffSession, checked string) error
	// StaffSession returns a live session of an enabled member, else
	// ErrNotFound.
	StaffSession(ctx context.Context, idHash []byte) (StaffSession, error)
	DeleteStaffSession(ctx context.Context, idHash []byte) error
	// SetStaffPassword replaces the member's password hash and ends every
	// session of theirs but keep (the console that changed it), at once.
	SetStaffPassword(ctx context.Context, staffID, hash string, keep []byte) error
	// SetWork records how the bank's people work the conversation.
	SetWork(ctx context.Context, conversationID, status string, snoozedUntil time.Time, priority int) error
	// AddNote keeps a private note, sealed under the conversation's data
	// key as the store holds it: ErrStaleKey (nothing kept) when the key was
	// replaced meanwhile, as by a clearing of the history.
	AddNote(ctx context.Context, n Note) error
	Notes(ctx context.Context, conversationID string) ([]Note, error) // oldest first
	// AddRating keeps a customer's score of a resolved conversation, once
	// per request (ErrExists after).
	AddRating(ctx context.Context, r Rating) error
	// Figures for supervisors, since a time: ratings, changes of owner
	// (SetOwner records each), and when agents wrote.
	Ratings(ctx context.Context, institutionID string, since time.Time) ([]Rating, error)
	Handovers(ctx context.Context, institutionID string, since time.Time) ([]HandoverRecord, error)
	AgentMessageTimes(ctx context.Context, institutionID string, since time.Time) ([]EventTime, error)
	AddCanned(ctx context.Context, c Canned) error
	CannedResponses(ctx context.Context, institutionID string) ([]Canned, error) // by title
	// SearchConversations lists up to limit of the institution's
	// conversations whose newest link id contains ref.
	SearchConversations(ctx context.Context, institutionID, ref string, limit int) ([]Conversation, error)
	// AvailableAgents lists the institution's enabled agents who are
	// present now: a console of theirs, on a live session, holds an online
	// presence whose lease has not lapsed (SetPresence). A signed-in agent
	// whose console is closed, or away, is not given work.
	AvailableAgents(ctx context.Context, institutionID string, now time.Time) ([]string, error)
	// HandedOver lists the institution's conversations that its people
	// have or that wait for them (owner queue or agent), oldest change first.
	HandedOver(ctx context.Context, institutionID string) ([]Conversation, error)
	// HandedOverActivity says, for each conversation HandedOver lists, what
	// the queue needs without opening any content: the customer's newest
	// event, when the agents last wrote, when the bot last handed it to
	// people, and the newest fraud alert or answer.
	HandedOverActivity(ctx context.Context, institutionID string) ([]Activity, error)
	// SetPresence keeps or renews one console's presence (by StreamID);
	// EndPresence ends it at once, and forgets presences whose lease lapsed
	// before now (consoles on nodes that died).
	SetPresence(ctx context.Context, p Presence) error
	EndPresence(ctx context.Context, streamID string, now time.Time) error
	// StaffPresence maps each member of the institution with a console
	// present at now to "online" (any of their consoles online) or "away".
	StaffPresence(ctx context.Context, institutionID string, now time.Time) (map[string]string, error)
	// AddLabel puts a label on a conversation (once: again changes
	// nothing); RemoveLabel takes it off, ErrNotFound when it is not on.
	AddLabel(ctx context.Context, l Label) error
	RemoveLabel(ctx context.Context, conversationID, label string) error
	// ConversationLabels maps each conversation of the institution that
	// has labels to them, sorted.
	ConversationLabels(ctx context.Context, institutionID string) (map[string][]string, error)
	// DeleteCanned deletes one of the institution's canned responses;
	// ErrNotFound unless it is theirs.
	DeleteCanned(ctx context.Context, institutionID, id string) error
}

// Links keeps consent: link attempts, links and their receipts, renewals,
// narrowing, revocation, delegations, and clearing a history.
type Links interface {
	CreateLinkAttempt(ctx context.Context, a LinkAttempt) error
	// TakeLinkAttempt returns and deletes the attempt, so a state is used
	// once. Expired attempts are ErrNotFound.
	TakeLinkAttempt(ctx context.Context, stateHash []byte) (LinkAttempt, error)

	// CreateLink stores the link and the receipt of its grant, and returns
	// the link with its conversation, which is created for the customer and
	// institution if they have none.
	CreateLink(ctx context.Context, l Link, grant Receipt) (Link, error)
	// ClearHistory deletes every event of the customer's conversation with
	// c.InstitutionID, every notice sealed for it and the console's notes, replaces the data key
	// that sealed them with c.NewKey (so no copy of the old ciphertext, in a
	// WAL or a backup, can be opened again), and appends c.Marker, in one
	// transaction. Consent receipts stay. ErrNotFound when there is no such
	// conversation; ErrKeyChanged when the key is not at c.OldKeyVersion.
	ClearHistory(ctx context.Context, c Clearing) (Cleared, error)
	// PurgeReceipts deletes receipts collected before cutoff whose link has
	// ended (revoked or expired): evidence of a live consent is never
	// purged. It returns how many it deleted.
	PurgeReceipts(ctx context.Context, cutoff time.Time) (int64, error)
	// Receipts lists the customer's consent receipts, oldest first.
	Receipts(ctx context.Context, customerID string) ([]Receipt, error)
	Link(ctx context.Context, id string) (Link, error)
	// LinksByID returns the links among ids that exist, in no order: one
	// query where Link would take one per id.
	LinksByID(ctx context.Context, ids []string) ([]Link, error)
	// RevokeLink ends a link's consent in one transaction: it marks the link
	// revoked, deletes every event stored under it, appends r.Marker to the
	// conversation, and, when the customer revoked, queues a link.revoked
	// notice for the institution. Once it returns, AppendEvents refuses
	// every event for the link, on every node. ErrNotFound when the link is
	// not the revoker's; ErrAlreadyRevoked (nothing changed) when it was
	// revoked before.
	RevokeLink(ctx context.Context, r Revocation) (Revoked, error)
	// DueLinks lists up to limit active links whose expiry has passed.
	DueLinks(ctx context.Context, now time.Time, limit int) ([]Link, error)
	// DueReminders lists up to limit active links that expire by before and
	// whose customer has not been told in this term.
	DueReminders(ctx context.Context, now, before time.Time, limit int) ([]Link, error)
	// Remind appends marker (a TypeLinkExpiring notice) to the link's
	// conversation and notes the reminder, once per term: ErrAlreadyRevoked
	// when there is nothing to remind of any more. It returns the seq.
	Remind(ctx context.Context, linkID string, at time.Time, marker NewEvent) (int64, error)
	// NarrowLink takes scopes away from an active link, deletes the events
	// of the types only those scopes allowed, appends n.Marker and stores the
	// receipt, in one transaction. ErrNotFound when the link is not the
	// customer's; ErrWiden when n.Scopes is not a strict subset.
	NarrowLink(ctx context.Context, n Narrowing) (Link, error)
	// RenewLink makes the link active until r.ExpiresAt (never earlier than
	// it already was) and stores the receipt, in one transaction.
	RenewLink(ctx context.Context, r Renewal) (Link, error)
	// CreateDelegation stores d and the receipt of the owner's grant.
	CreateDelegation(ctx context.Context, d Delegation, grant Receipt) error
	Delegation(ctx context.Context, id string) (Delegation, error)
	// Delegations lists the delegations of a link (owner side) when linkID
	// is set, else those granted to delegateID.
	Delegations(ctx context.Context, linkID, delegateID string) ([]Delegation, error)
	// RevokeDelegation ends d at once; only its owner may. It ends it once
	// (ErrNotFound for another's, nothing new for an ended one), and keeps the receipt of that decision (the store fills in its link,
	// institution and scopes from the delegation) in the same transaction.
	RevokeDelegation(ctx context.Context, id, ownerID string, at time.Time, r Receipt) error
	// Links lists every link of the customer, newest first.
	Links(ctx context.Context, customerID string) ([]Link, error)

	// Names customers show to an institution's people (DisplayName).
	//
	// PutDisplayName keeps n as the name of its link, in place of any
	// before, and the receipt of the customer's decision (the store fills
	// its customer, institution and link), in one transaction. The link
	// must be n.CustomerID's (ErrNotFound), in force at n.SetAt
	// (ErrConsentRevoked, ErrConsentExpired) and grant DisplayNameScope
	// (ErrConsentScope); n must be sealed under the current version of
	// the conversation's data key (ErrStaleKey: a clearing replaced it
	// meanwhile; seal again). Nothing changes on an error.
	//
	// What the store keeps true whoever writes: the transaction that ends a
	// link (revoked or expired), takes DisplayNameScope from it or destroys
	// its conversation's data key (ClearHistory) deletes its name too.
	PutDisplayName(ctx context.Context, n DisplayName, r Receipt) error
	// DeleteDisplayName deletes the name of the customer's link and keeps
	// the receipt of that decision (filled as by PutDisplayName), in one
	// transaction; ErrNotFound, with nothing kept, when it has none.
	DeleteDisplayName(ctx context.Context, customerID, linkID string, r Receipt) error
	// DisplayNames lists the names of these links that have one, by link id.
	DisplayNames(ctx context.Context, linkIDs []string) ([]DisplayName, error)
}

// AccessLog keeps the transparency log of every non-customer read (package
// access, tlog).
type AccessLog interface {
	// AppendLogEntry appends e to the access log at the next index (gapless
	// from 0, whatever the number of nodes) and returns that index.
	AppendLogEntry(ctx context.Context, e LogEntry) (uint64, error)
	// LogEntries lists the subject's entries, oldest first.
	LogEntries(ctx context.Context, subject string) ([]LogEntry, error)
	// LogRange lists the entries with from <= index < to, in order.
	LogRange(ctx context.Context, from, to uint64) ([]LogEntry, error)
	// LeafHashes returns the leaf hashes of the entries from <= index < to,
	// in order.
	LeafHashes(ctx context.Context, from, to uint64) ([][32]byte, error)
	// LogNodes returns the hashes of these perfect subtrees of the log, in
	// the order asked; level 0 is an entry's leaf hash. ErrNotFound when one
	// is not kept.
	LogNodes(ctx context.Context, ids []LogNodeID) ([][32]byte, error)
	// PutLogNodes keeps hashes of perfect subtrees above the leaves (level
	// ≥ 1), all or none. Keeping one again with the same hash changes
	// nothing; with another hash it is ErrCorrupt, and nothing is kept.
	PutLogNodes(ctx context.Context, nodes []LogNode) error
	// LogNodesCover is how many leaves the kept level-1 subtrees cover,
	// 2 × (the highest kept index at level 1, + 1) or 0, and how many
	// subtrees are kept in all, read together.
	LogNodesCover(ctx context.Context) (cover, kept uint64, err error)
	// LogSize is the number of entries.
	LogSize(ctx context.Context) (uint64, error)
	// PutCheckpoint keeps a signed checkpoint; one of the same size is
	// kept as it was.
	PutCheckpoint(ctx context.Context, c StoredCheckpoint) error
	// Checkpoints lists every checkpoint kept, smallest first.
	Checkpoints(ctx context.Context) ([]StoredCheckpoint, error)
}

// Outbox keeps what goes to the banks: webhook endpoints and the notices
// waiting for them (package webhook).
type Outbox interface {
	// PutWebhookEndpoint registers or replaces the institution's endpoint;
	// notices waiting for one become due at once.
	PutWebhookEndpoint(ctx context.Context, e WebhookEndpoint) error
	WebhookEndpoint(ctx context.Context, institutionID string) (WebhookEndpoint, error)
	// DisableWebhookEndpoint stops deliveries to it until it is registered again.
	DisableWebhookEndpoint(ctx context.Context, institutionID, reason string, at time.Time) error
	// ClaimNotices leases up to limit notices due at now until leaseUntil:
	// undelivered, not dead, not leased, of an institution with an enabled
	// endpoint, and each the first-queued pending notice of its link, so a link's
	// notices go out in order. A notice leased to one deliverer is not
	// claimed by another until its lease ends. Notices of an institution
	// without an endpoint wait unclaimed, and are due the moment one is
	// registered.
	ClaimNotices(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Notice, error)
	// SettleNotices records the outcomes of attempts, each ending its
	// notice's lease, in one transaction. An outcome whose notice is no
	// longer leased until its LeaseUntil (the lease ran out and another
	// deliverer claimed it) is dropped: that deliverer settles it.
	SettleNotices(ctx context.Context, os []Outcome) error
	// Redeliver gives a dead-lettered notice of the institution a fresh set
	// of attempts, due now. ErrNotFound unless it is that institution's and dead.
	Redeliver(ctx context.Context, institutionID, noticeID string, now time.Time) error
	// Notices lists the institution's outbox in the order it was queued.
	Notices(ctx context.Context, institutionID string) ([]Notice, error)
}

// Conversations keeps the conversations and their events: appends (consent-
// checked in the same transaction), reads, and ownership.
type Conversations interface {
	// Conversations lists the customer's conversations with their newest link.
	Conversations(ctx context.Context, customerID string) ([]Conversation, error)
	Conversation(ctx context.Context, id string) (Conversation, error)
	// ConversationEvent returns the conversation and its event at seq, in
	// one round trip when both are there; the event is the zero Event
	// when the conversation has none at seq.
	ConversationEvent(ctx context.Context, id string, seq int64) (Conversation, Event, error)
	// ConversationHeads lists every conversation of the customers with its
	// last seq: what delivery's sweep compares with what it heard.
	ConversationHeads(ctx context.Context, customerIDs []string) ([]ConversationHead, error)
	// LiveSessions reports which of the sessions (id hashes, as map keys)
	// live at now: not ended, not expired.
	LiveSessions(ctx context.Context, idHashes [][]byte, now time.Time) (map[string]bool, error)
	// SetOwner moves the conversation from one owner to another and queues
	// n (a conversation.handover notice) in the same transaction. It
	// changes nothing and returns ErrOwnerChanged unless the conversation is
	// still with fromOwner (and fromAgent). Moving to the queue (a new
	// wait for a person) starts the work afresh: open, normal priority, no
	// snooze.
	SetOwner(ctx context.Context, conversationID, fromOwner, fromAgent, toOwner, toAgent string, n Notice) error

	// AppendEvents stores each event in its link's conversation, in order,
	// and returns one result per event. An event that fails (consent,
	// idempotency) stores nothing and does not affect the others. The error
	// return is for failures of the whole call; then nothing was stored.
	AppendEvents(ctx context.Context, evs []NewEvent) ([]AppendResult, error)
	// OnCommit sets fn, which the store calls once for each transaction of
	// appends that committed, with every event it stored, as stored
	// (sealed), before any caller is answered: in commit order, so a
	// conversation's events reach fn in seq order. fn must not block for
	// long; it holds up the store's writer.
	OnCommit(fn func([]Event))
	// EventsAfter returns up to limit events of the conversation with seq >
	// after, in seq order.
	EventsAfter(ctx context.Context, conversationID string, after int64, limit int) ([]Event, error)
	// EventsBefore returns the newest limit events with seq < before, in seq
	// order: a page of history, scrolling back.
	EventsBefore(ctx context.Context, conversationID string, before int64, limit int) ([]Event, error)
	// LatestEvents returns the conversation's newest limit events of type
	// typ, newest first: the last known balance, say.
	LatestEvents(ctx context.Context, conversationID, typ string, limit int) ([]Event, error)
}

// Store is everything the platform keeps, as the roles above: a service
// takes only the roles it uses, and only the server holds a whole Store.
// Implementations are safe for concurrent use.
type Store interface {
	Keys
	Devices
	Institutions
	Accounts
	Console
	Links
	AccessLog
	Outbox
	Conversations

	// Ping reports whether the store can serve.
	Ping(ctx context.Context) error
	Close() error
}

// Institution is a bank, card issuer or merchant that integrates with the
// platform, with the OAuth endpoints its customers link through.
type Institution struct {
	ID   string
	Name string
	// Kind is InstitutionBank (holds customers' money and can pay for
	// them; the default, also for "") or InstitutionMerchant (sells, and
	// asks to be paid). The operator says which at creation.
	Kind         string
	AuthorizeURL string
	TokenURL     string
	ClientID     string
	ClientSecret string // the platform's credential at the institution
	CreatedAt    time.Time
}

// Institution kinds.
const (
	InstitutionBank     = "bank"
	InstitutionMerchant = "merchant"
)

// KindOf is an institution's kind as stored: InstitutionBank unless it is
// a merchant.
func KindOf(kind string) string {
	if kind == InstitutionMerchant {
		return InstitutionMerchant
	}
	return InstitutionBank
}

// APIKey is an institution's credential for the Bank API. Only a hash of the
// secret is kept.
type APIKey struct {
	ID            string
	InstitutionID string
	Hash          []byte
	CreatedAt     time.Time
	ExpiresAt     time.Time // zero: does not expire
}

// Customer is a person who signed up.
type Customer struct {
	ID           string
	Email        string // lower-cased
	PasswordHash string // argon2id, PHC string format
	CreatedAt    time.Time
	// Language is the language the customer chose for OpenTeller (an
	// i18n code: "fr"), "" while they have chosen none: the interface,
	// their pushes and mail are in it wherever they sign in.
	Language string
}

// Staff roles.
const (
	RoleAgent      = "agent"
	RoleSupervisor = "supervisor"
)

// Staff is one of an institution's people: they sign in to the console.
type Staff struct {
	ID            string
	InstitutionID string
	Email         string // lower-cased
	Name          string
	Role          string
	PasswordHash  string
	DisabledAt    time.Time // zero while enabled
	CreatedAt     time.Time
}

// StaffSession is a signed-in console.
type StaffSession struct {
	IDHash    []byte
	StaffID   string
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Session is a signed-in device. Only a hash of the cookie's token is kept.
type Session struct {
	IDHash     []byte
	CustomerID string
	CSRFToken  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	// PasskeyID is the credential id of the passkey that signed the
	// session in, nil for a password: removing that passkey ends the
	// session (DeletePasskey).
	PasskeyID []byte
}

// LinkAttempt is a link started at the platform and not yet back from the
// institution's authorize page.
type LinkAttempt struct {
	StateHash     []byte
	CustomerID    string
	InstitutionID string
	LinkID        string
	CodeVerifier  string
	Scopes        []string
	ExpiresAt     time.Time
	// What the customer chose on the disclosure screen.
	DurationDays     int
	DisclosureDigest string
}

// Link statuses.
const (
	LinkActive  = "active"
	LinkRevoked = "revoked"
	LinkExpired = "expired" // ended by time; renewal makes it active again
)

// Link is a customer's consent for one institution to post into their
// conversation: an opaque pairwise id, the scopes approved, and an expiry.
type Link struct {
	ID             string
	CustomerID     string
	InstitutionID  string
	ConversationID string
	Scopes         []string
	Status         string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	RevokedAt      time.Time // zero unless revoked
	// KeyVersion is the current version of the conversation's data key; only
	// AppendTx.LockLinks fills it (0: none yet).
	KeyVersion int
}

// HasScope reports whether the link grants scope.
func (l Link) HasScope(scope string) bool {
	for _, s := range l.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Conversation is a customer's thread with one institution.
type Conversation struct {
	ID              string
	CustomerID      string
	InstitutionID   string
	InstitutionName string
	LastSeq         int64
	Link            Link // the newest link of this customer to this institution
	// Owner answers the customer: "bot", "queue" or "agent" (package
	// handover); AgentID is the agent's when Owner is "agent".
	Owner   string
	AgentID string
	// How the bank's people work it (the console): open, pending, snoozed
	// (until SnoozedUntil) or resolved; priority 0 normal, 1 high, 2 urgent.
	Status       string
	SnoozedUntil time.Time
	Priority     int
}

// ConversationHead is where a conversation is.
type ConversationHead struct {
	ConversationID string
	CustomerID     string
	LastSeq        int64
}

// Console statuses of a conversation.
const (
	StatusOpen     = "open"
	StatusPending  = "pending"
	StatusSnoozed  = "snoozed"
	StatusResolved = "resolved"
)

// Note is a private note of the bank's people on a conversation: sealed
// under the conversation's key, never shown to the customer.
type Note struct {
	ID             string
	ConversationID string
	StaffID        string
	Sealed         []byte
	CreatedAt      time.Time
}

// Rating is a customer's score (1-5) of a resolved conversation.
type Rating struct {
	ConversationID string
	RequestSeq     int64
	InstitutionID  string
	StaffID        string
	Score          int
	CreatedAt      time.Time
}

// HandoverRecord is one change of a conversation's owner.
type HandoverRecord struct {
	ConversationID string
	From, To       string
	AgentID        string // the agent taking it, or handing it back
	At             time.Time
}

// EventTime is when an event of a conversation was stored.
type EventTime struct {
	ConversationID string
	At             time.Time
}

// Canned is one of an institution's canned responses.
type Canned struct {
	ID            string
	InstitutionID string
	Title         string
	Text          string
	CreatedAt     time.Time
}

// Presence is one open console's presence: its member is online or away
// while the console's stream lives, until ExpiresAt unless renewed.
type Presence struct {
	StreamID    string // one per open console
	StaffID     string
	SessionHash []byte // the console's session: ending it ends the presence
	Status      string // PresenceOnline or PresenceAway
	ExpiresAt   time.Time
}

// Presence statuses. Offline is having no presence at all.
const (
	PresenceOnline = "online"
	PresenceAway   = "away"
)

// Activity is what the console's queue knows of a conversation from
// metadata alone: types, authors and times of events, changes of owner.
type Activity struct {
	ConversationID   string
	LastCustomerSeq  int64 // the customer's newest event (0: none)
	LastCustomerType string
	LastCustomerAt   time.Time
	LastAgentAt      time.Time // when an agent last wrote (zero: never)
	// CustomerSinceAgent is the customer's first event after the agents'
	// last message (after the start, with none); zero when there is none.
	CustomerSinceAgent time.Time
	HandedAt           time.Time // when the bot last handed it to people
	FraudAt            time.Time // the newest fraud.alert or fraud.response
}

// Label is a word the bank's people put on a conversation to sort their
// work ("card dispute", "callback").
type Label struct {
	ConversationID string
	Label          string
	StaffID        string
	CreatedAt      time.Time
}

// Event authors.
const (
	AuthorInstitution = "institution"
	AuthorCustomer    = "customer"
	AuthorPlatform    = "platform" // notices such as a revocation; never financial content
	AuthorAgent       = "agent"    // one of the bank's people, from the console
)

// The platform's notices, in the conversation, that a link ended and its
// data was deleted.
const (
	TypeLinkNarrowed = "link.narrowed" // the customer took scopes away
	TypeLinkRevoked  = "link.revoked"
	TypeLinkExpired  = "link.expired"
	TypeLinkExpiring = "link.expiring" // the term ends soon: renew?
	// TypeHistoryCleared marks where the customer cleared the history.
	TypeHistoryCleared = "history.cleared"
)

// Clearing asks ClearHistory to clear a customer's history with one
// institution.
type Clearing struct {
	CustomerID    string
	InstitutionID string
	At            time.Time
	// OldKeyVersion is the version of the conversation's data key the
	// caller prepared NewKey after (0: none); NewKey replaces it.
	OldKeyVersion int
	NewKey        vault.WrappedKey
	// Marker is the TypeHistoryCleared notice, sealed under NewKey; the
	// store places it after the conversation's last seq.
	Marker NewEvent
	// DropCustomerKey also deletes the customer's own key (clearing
	// everything): fingerprints and the access-log pseudonym made with it
	// no longer link to them.
	DropCustomerKey bool
}

// Cleared is what ClearHistory did.
type Cleared struct {
	ConversationID string
	Seq            int64 // the marker's
	Deleted        int64 // events deleted
}

// Revocation asks RevokeLink to end a link's consent.
type Revocation struct {
	LinkID string
	// Exactly one of these says who ends the link: the customer who owns
	// it, the institution it was made with, or (Expire) time, once its
	// expiry has passed.
	CustomerID    string
	InstitutionID string
	Expire        bool
	At            time.Time
	// Marker is the sealed TypeLinkRevoked event to append; the store fills
	// its Seq and ConversationID.
	Marker NewEvent
	// Receipt records the revocation; the store fills its link fields.
	Receipt Receipt
}

// Revoked is what RevokeLink did.
type Revoked struct {
	Link    Link  // as it is now: revoked
	Seq     int64 // the marker's seq in the conversation
	Deleted int64 // events deleted
}

// Outbox notice types.
const (
	NoticeLinkCreated = "link.created"
	NoticeLinkRevoked = "link.revoked"
	NoticeLinkExpired = "link.expired"
	// Sealed: the customer wrote, asked or answered.
	NoticeCustomerMessage = "customer.message"
	NoticeCustomerRequest = "customer.request"
	NoticeFraudResponse   = "fraud.response"
	// Who answers the customer changed (package handover).
	NoticeHandover = "conversation.handover"
)

// Event is one entry of a conversation, as stored: metadata in the clear,
// the payload sealed by the vault under the customer's key and bound to ID.
type Event struct {
	ID             string // record id, random; bound into the seal
	ConversationID string
	Seq            int64
	CustomerID     string
	InstitutionID  string
	LinkID         string
	BankEventID    string // the institution's id; empty for customer messages
	Type           string
	Author         string
	OccurredAt     time.Time
	ReceivedAt     time.Time
	ReplacesSeq    int64 // a posted transaction replacing a pending one
	Sealed         []byte
}

// NewEvent is an event to append. The store fills Seq, ConversationID and
// ReplacesSeq.
type NewEvent struct {
	Event
	// Scope is the consent scope the event's type needs; empty for none.
	Scope string
	// Fingerprint is a keyed digest of the event's body, for idempotency.
	Fingerprint []byte
	// PendingRef marks a pending transaction: a keyed digest of its
	// reference id, by which a later posted one finds it.
	PendingRef []byte
	// ReplacesRef, on a posted transaction, names the pending one it
	// replaces.
	ReplacesRef []byte
	// Notice, when set, is queued for the institution in the same
	// transaction as the event, and only if the event is stored: a
	// customer's message or answer reaches the bank exactly when it is in
	// the conversation. The store fills its institution and link.
	Notice *Notice
	// Bundle, when set, ties the event to the others of the same
	// AppendEvents call with the same Bundle, in other conversations
	// too: they are stored all or none. When one is refused, or was
	// stored before (a duplicate or a conflict), none is stored, and the
	// others answer ErrBundle. A caller makes each bundle's name unique
	// (appends of several callers may share a transaction).
	Bundle string
}

// PushSubscription is one device's Web Push subscription (RFC 8030): where
// its browser's push service takes messages for it, the keys a push is
// encrypted to (RFC 8291), and which kinds of push it wants.
type PushSubscription struct {
	ID         string // a digest of the endpoint: one per device
	CustomerID string
	Endpoint   string
	P256DH     string // the device's public key, base64url
	Auth       string // the device's authentication secret, base64url
	Kinds      []string
	CreatedAt  time.Time
}

// Committed keeps a store's OnCommit function; implementations embed it.
type Committed struct{ fn atomic.Pointer[func([]Event)] }

// OnCommit sets the function (see Store.OnCommit).
func (c *Committed) OnCommit(fn func([]Event)) { c.fn.Store(&fn) }

// Announce calls it with evs, if there are any.
func (c *Committed) Announce(evs []Event) {
	if f := c.fn.Load(); f != nil && len(evs) > 0 {
		(*f)(evs)
	}
}

// StoredEvents lists the events of evs that results say were stored now
// (not refused, not duplicates), as stored.
func StoredEvents(evs []NewEvent, results []AppendResult) []Event {
	out := make([]Event, 0, len(results))
	for i, r := range results {
		if r.Err == nil && !r.Duplicate {
			out = append(out, evs[i].Event)
		}
	}
	return out
}

// AppendResult is the outcome of one NewEvent.
type AppendResult struct {
	Seq            int64
	ConversationID string
	Duplicate      bool  // the same event was stored before; Seq is the original
	ReplacesSeq    int64 // a stored posted transaction: the pending one it replaces
	// Leased is the event's notice when the store leased it to the caller
	// (see Notice.LeaseUntil): the caller sends it now and settles it. Nil
	// when it waits its turn behind its link's other notices.
	Leased *Notice
	Err    error // one of the consent or idempotency errors above
}

// Notice is an outbox entry: something the institution must be told.
//
// A notice caused by the platform (a link made or ended) carries ids and
// times in Payload. A notice that carries the customer's words or answers
// is sealed: CustomerID is set and Sealed holds the JSON sealed under that
// customer's key, bound to the notice's ID, so the store never holds it in
// the clear and clearing the customer's history makes it unreadable.
type Notice struct {
	ID            string
	InstitutionID string
	LinkID        string
	Type          string
	Payload       []byte // JSON; ids and times only
	CustomerID    string // set when Sealed is
	Sealed        []byte
	CreatedAt     time.Time
	// LeaseUntil, on a NewEvent's notice, asks the store to lease it to
	// the caller at its commit, until then, so the caller sends it at once
	// with no claim (AppendResult.Leased); the store grants it only to a
	// link's first pending notice.
	LeaseUntil  time.Time
	Attempts    int       // deliveries tried so far
	DeliveredAt time.Time // zero until delivered
	DeadAt      time.Time // zero unless dead-lettered
	LastError   string
}

// Outcome is what became of one delivery attempt of a notice.
type Outcome struct {
	NoticeID    string
	Attempts    int       // the notice's attempts count after this one
	DeliveredAt time.Time // set when delivered
	DeadAt      time.Time // set when it will not be tried again
	NextAt      time.Time // when to try again otherwise
	Error       string
	LeaseUntil  time.Time // the lease the attempt was made under (to the microsecond)
}

// WebhookEndpoint is where an institution's notices are posted. Secrets are
// sealed under the root key: the platform must read them back to sign.
type WebhookEndpoint struct {
	InstitutionID  string
	URL            string
	Secret         []byte // sealed
	PreviousSecret []byte // sealed; still signs until PreviousUntil
	PreviousUntil  time.Time
	DisabledAt     time.Time
	DisabledReason string
	CreatedAt      time.Time
	// Format is what the endpoint expects: "" for Standard Webhooks, or a
	// format the deliverer was given (FormatMessenger). It outlives a
	// rotation of the secret.
	Format string
}

// FormatMessenger is the webhook format of the Messenger Platform
// (package messenger).
const FormatMessenger = "messenger"

// Menu is an institution's menu in its conversations (the messenger's ☰)
// and the payload a new conversation's "Get started" sends back; nothing in
// it is a customer's.
type Menu struct {
	InstitutionID string
	GetStarted    string // the payload; "" when there is no Get started
	Items         []MenuItem
	UpdatedAt     time.Time
}

// MenuItem is one entry of a menu: exactly one of Payload (sent back to the
// bank when tapped) or URL (an https page to open).
type MenuItem struct {
	Title   string `json:"title"`
	Payload string `json:"payload,omitempty"`
	URL     string `json:"url,omitempty"`
}

// CreatedNotice tells the bank a link was made, with the scopes the
// customer approved and its expiry.
func CreatedNotice(l Link) Notice {
	payload, _ := json.Marshal(map[string]any{"link_id": l.ID, "scopes": l.Scopes, "expires_at": l.ExpiresAt.UTC().Format(time.RFC3339Nano)})
	b := make([]byte, 12)
	rand.Read(b)
	return Notice{ID: "ntc_" + hex.EncodeToString(b), InstitutionID: l.InstitutionID, LinkID: l.ID, Type: NoticeLinkCreated, Payload: payload, CreatedAt: l.CreatedAt}
}

// EndedNotice is the notice that tells the bank a link ended, unless the
// bank ended it itself (then it returns false).
func EndedNotice(r Revocation, l Link) (Notice, bool) {
	var typ, by string
	switch {
	case r.Expire:
		typ, by = NoticeLinkExpired, "expiry"
	case r.CustomerID != "":
		typ, by = NoticeLinkRevoked, AuthorCustomer
	default:
		return Notice{}, false
	}
	payload, _ := json.Marshal(map[string]string{"link_id": l.ID, "ended_at": r.At.UTC().Format(time.RFC3339Nano), "ended_by": by})
	b := make([]byte, 12)
	rand.Read(b)
	return Notice{ID: "ntc_" + hex.EncodeToString(b), InstitutionID: l.InstitutionID, LinkID: l.ID, Type: typ, Payload: payload, CreatedAt: r.At}, true
}

// CheckRevoker reports whether r may end l: the owning customer or the
// link's institution while it is active or expired, or time once an
// active link's expiry has passed. ErrAlreadyRevoked means there is
// nothing left to end.
func CheckRevoker(r Revocation, l Link) error {
	switch {
	case r.Expire && r.CustomerID == "" && r.InstitutionID == "":
		if l.Status != LinkActive || r.At.Before(l.ExpiresAt) {
			return ErrAlreadyRevoked
		}
		return nil
	case r.CustomerID != "" && r.CustomerID == l.CustomerID && r.InstitutionID == "" && !r.Expire:
	case r.InstitutionID != "" && r.InstitutionID == l.InstitutionID && r.CustomerID == "" && !r.Expire:
	default:
		return ErrNotFound
	}
	if l.Status == LinkRevoked {
		return ErrAlreadyRevoked
	}
	return nil
}

// EndedStatus is the status r leaves a link in.
func EndedStatus(r Revocation) string {
	if r.Expire {
		return LinkExpired
	}
	return LinkRevoked
}

// Renewal extends a link's consent; the customer who owns it asks.
type Renewal struct {
	LinkID     string
	CustomerID string
	At         time.Time
	ExpiresAt  time.Time
	Receipt    Receipt
}

// CheckRenewal reports whether r may renew l: its owner, while it is
// active or expired (a revoked link is linked anew, through the bank).
func CheckRenewal(r Renewal, l Link) error {
	if r.CustomerID == "" || r.CustomerID != l.CustomerID {
		return ErrNotFound
	}
	if l.Status == LinkRevoked {
		return ErrConsentRevoked
	}
	return CheckReceipt(r.Receipt)
}

// Receipt actions.
const (
	ReceiptGrant  = "grant"
	ReceiptRenew  = "renew"
	ReceiptNarrow = "narrow"
	ReceiptRevoke = "revoke"
	ReceiptExpire = "expire"
)

// Receipt is the evidence of one consent decision: who, which institution,
// what, for what, when, until when, how it was collected, and a digest of the
// exact disclosure text shown. It is kept after the data it covered is
// deleted, and holds no financial data.
type Receipt struct {
	ID               string
	CustomerID       string
	InstitutionID    string
	LinkID           string
	Action           string
	Scopes           []string
	Purpose          string
	CollectedAt      time.Time
	ExpiresAt        time.Time
	Method           string
	DisclosureDigest string
}

// errNoReceipt guards the rule that no consent changes without a receipt.
var errNoReceipt = errors.New("store: a consent change needs its receipt")

// CheckReceipt reports whether r is filled enough to store.
func CheckReceipt(r Receipt) error {
	if r.ID == "" || r.Action == "" || r.Method == "" {
		return errNoReceipt
	}
	return nil
}

// Narrowing takes scopes away from a link; the customer who owns it asks.
type Narrowing struct {
	LinkID      string
	CustomerID  string
	Scopes      []string // what stays
	DeleteTypes []string // event types none of the remaining scopes allow
	At          time.Time
	Marker      NewEvent // a TypeLinkNarrowed notice
	Receipt     Receipt
}

// CheckNarrowing reports whether n may narrow l.
func CheckNarrowing(n Narrowing, l Link) error {
	if n.CustomerID == "" || n.CustomerID != l.CustomerID {
		return ErrNotFound
	}
	switch {
	case l.Status == LinkRevoked:
		return ErrConsentRevoked
	case l.Status != LinkActive || !n.At.Before(l.ExpiresAt):
		return ErrConsentExpired
	}
	if len(n.Scopes) == 0 || len(n.Scopes) >= len(l.Scopes) {
		return ErrWiden
	}
	for _, s := range n.Scopes {
		if !l.HasScope(s) {
			return ErrWiden
		}
	}
	return CheckReceipt(n.Receipt)
}

// Delegation is read-only access that a link's owner grants another
// customer (an accountant, say) to that one link, for a bounded time.
type Delegation struct {
	ID         string
	LinkID     string
	OwnerID    string
	DelegateID string
	Scopes     []string // balances and/or transactions
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time // zero unless revoked
}

// Live reports whether the delegation may be used at now.
func (d Delegation) Live(now time.Time) bool {
	return d.RevokedAt.IsZero() && now.Before(d.ExpiresAt)
}

// LogEntry is one entry of the access log: a read of a customer's data by
// someone other than the customer's own devices. Data is its exact bytes
// (package access encodes them; they hold no content and no personal
// data), LeafHash their Merkle leaf hash, Subject the customer's pseudonym.
type LogEntry struct {
	Index    uint64
	Subject  string
	Data     []byte
	LeafHash [32]byte
}

// LogNodeID names a perfect subtree of the access log's Merkle tree: at
// Level l, Index i covers the entries [i·2^l, (i+1)·2^l) (package tlog).
type LogNodeID struct {
	Level uint8
	Index uint64
}

// LogNode is a perfect subtree's hash, kept so that proofs need not rehash
// the whole log.
type LogNode struct {
	LogNodeID
	Hash [32]byte
}

// Hash32 is a stored hash as read, checked for its length: ErrCorrupt
// otherwise, where a conversion would panic.
func Hash32(b []byte) ([32]byte, error) {
	if len(b) != 32 {
		return [32]byte{}, fmt.Errorf("%w: a hash of %d bytes", ErrCorrupt, len(b))
	}
	return [32]byte(b), nil
}

// InOrder lists the hashes of ids from what a store found, in the order
// asked: a LogNodes helper for the implementations. ErrNotFound names the
// first one missing.
func InOrder(ids []LogNodeID, found map[LogNodeID][32]byte) ([][32]byte, error) {
	out := make([][32]byte, len(ids))
	for i, id := range ids {
		h, ok := found[id]
		if !ok {
			return nil, fmt.Errorf("log node %d/%d: %w", id.Level, id.Index, ErrNotFound)
		}
		out[i] = h
	}
	return out, nil
}

// StoredCheckpoint is a signed checkpoint of the access log.
type StoredCheckpoint struct {
	Size      uint64
	Note      string
	CreatedAt time.Time
}

// ReceiptDelegate records an owner granting a delegate access, and
// ReceiptUndelegate the owner stopping it.
const (
	ReceiptDelegate   = "delegate"
	ReceiptUndelegate = "undelegate"
)

// SortNotices orders notices oldest first.
func SortNotices(ns []Notice) {
	slices.SortFunc(ns, func(a, b Notice) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// CheckMarkerKey refuses a platform notice sealed under another version of
// its conversation's data key than current, the one the store holds in the
// same transaction: it could never be opened (ErrStaleKey). The caller
// forgets its cached key and seals the notice again.
func CheckMarkerKey(m NewEvent, current int) error {
	if v := vault.SealedVersion(m.Sealed); v != 0 && v != current {
		return ErrStaleKey
	}
	return nil
}

// Marker places a platform notice in l's conversation right after seq last,
// the conversation's newest: deletions leave it as the newest event, so a
// store that counts seqs from its events never reuses one.
func Marker(m NewEvent, l Link, last int64) NewEvent {
	m.ConversationID, m.CustomerID, m.InstitutionID, m.LinkID, m.Seq = l.ConversationID, l.CustomerID, l.InstitutionID, l.ID, last+1
	return m
}

-- The access log becomes a Merkle tree (package tlog): each entry is a leaf
-- at a gapless index, its exact bytes kept so that anyone can rehash them,
-- and signed checkpoints of the tree's size and root. Entries written by
-- development builds before this (unverifiable, no index) are not carried
-- over.
DROP TABLE access_log;
CREATE TABLE access_entries (
    idx       INTEGER PRIMARY KEY,
    subject   TEXT NOT NULL,
    data      TEXT NOT NULL,  -- canonical JSON: who, what, whose (pseudonym), when
    leaf_hash BLOB NOT NULL   -- SHA-256(0x00 || data)
);
CREATE INDEX access_entries_subject ON access_entries (subject, idx);
CREATE TABLE log_checkpoints (
    size       INTEGER PRIMARY KEY,
    note       TEXT NOT NULL,   -- signed C2SP checkpoint
    created_at INTEGER NOT NULL
);

-- The hash of every perfect subtree of the access log above its leaves, kept
-- once complete (package tlog), so that a customer's proofs are made from a
-- few of them instead of rehashing the whole log on every request. Each is
-- a function of the entries below it: nodes fill it in lazily, and two
-- nodes writing the same one write the same bytes. `openteller audit
-- verify` rehashes them.
CREATE TABLE log_nodes (
    level smallint NOT NULL,  -- 1 and up; level 0 is access_entries.leaf_hash
    idx   bigint NOT NULL,  -- covers entries [idx·2^level, (idx+1)·2^level)
    hash  bytea NOT NULL,
    PRIMARY KEY (level, idx)
);

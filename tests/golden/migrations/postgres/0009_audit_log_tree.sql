-- The Merkle tree kept beside the event log (issue 14, ADR 43): RFC 9162 hashes
-- over the events in position order. The tree's head (how many leaves, the last
-- position in it, its frontier: the hashes of the perfect subtrees that make up
-- its size) moves in the transaction that stores the new leaves and nodes.
CREATE TABLE audit_log_tree (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    position BIGINT NOT NULL,
    frontier BYTEA NOT NULL,
    updated_at TIMESTAMPTZ
);
INSERT INTO audit_log_tree (id, size, position, frontier) VALUES (1, 0, 0, '\x'::bytea);

-- Leaf hashes (level 0), with the position and aggregate of the event each one
-- hashes (so one aggregate's leaves are found without reading the log).
CREATE TABLE audit_log_leaves (
    leaf_index BIGINT PRIMARY KEY,
    position BIGINT NOT NULL UNIQUE,
    aggregate_id UUID NOT NULL,
    hash BYTEA NOT NULL
);

CREATE INDEX audit_log_leaves_aggregate ON audit_log_leaves (aggregate_id, leaf_index);

-- Every complete interior node: the hash of the 2**level leaves from
-- node_index * 2**level on.
CREATE TABLE audit_log_nodes (
    level INTEGER NOT NULL,
    node_index BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, node_index)
);

-- Every checkpoint issued: the tree size it covers, its root and the signed note.
CREATE TABLE audit_log_checkpoints (
    size BIGINT PRIMARY KEY,
    root_hash BYTEA NOT NULL,
    note TEXT NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL
);

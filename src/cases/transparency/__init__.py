"""A verifiable log in the public formats of transparency logs (issue 14, ADR 42).

`merkle` holds RFC 9162's tree, proofs and their verification; `signed_note` the
C2SP signed-note format (Go's golang.org/x/mod/sumdb/note); `checkpoint` the
C2SP tlog-checkpoint body; `witness` where checkpoints are kept outside the
database. The room imports only the standard library and `cryptography`.
"""

"""The event log as a verifiable transparency log (issue 14, ADR 43).

The leaf encoding of a stored event (`leaves`), the tree kept beside the log
in SQL (`tree_store`), the operator's signing key (`keys`), when checkpoints
are issued (`issuing`) and the verification of the whole log against its
checkpoints (`verify`). The pure algorithms are in `cases.transparency`; the
follower that appends leaves as the log grows is `cases.followers.tree_builder`.
"""

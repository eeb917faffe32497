-- Every process counts the erased subjects about once a second to learn of
-- erasures made elsewhere (ADR 0044): the partial index keeps that count small.
CREATE INDEX subject_keys_erased ON subject_keys (subject_id) WHERE wrapped_key IS NULL;

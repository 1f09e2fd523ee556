-- A host's small integer id comes from a counter row, not MAX(seq) + 1:
-- on PostgreSQL two agents registering at once both read the same MAX and
-- one failed on compute_hosts_seq (23505). The counter's row lock makes
-- them take turns, and a deleted host's number is never handed out again
-- (as Nova's autoincrement service ids).
INSERT INTO epochs (name, value) SELECT 'compute_host_seq', COALESCE(MAX(seq), 0) FROM compute_hosts;

-- Where the console server of a host's agent answers (an `onestack agent`
-- in its own process), and the key the control plane presents to it: the
-- console log and serial console of its guests are read through it.
ALTER TABLE compute_hosts ADD COLUMN console_url TEXT NOT NULL DEFAULT '';
ALTER TABLE compute_hosts ADD COLUMN console_key TEXT NOT NULL DEFAULT '';

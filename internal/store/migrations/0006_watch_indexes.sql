-- An agent's watch reads "servers on my host (or moving off it) after
-- revision N": index exactly that, so the cost stays flat as deleted rows
-- accumulate between purges.
CREATE INDEX servers_host_revision ON servers (host, revision);
CREATE INDEX servers_source_host_revision ON servers (source_host, revision);

-- Octavia (load-balancer v2): every object of the API (load balancers,
-- listeners, pools, members, health monitors, L7 policies and rules,
-- flavors, flavor profiles, availability zones and their profiles, quotas)
-- and the hosts that run load balancers. The columns are what lists and the
-- agents' watch select on; the rest of an object (its attributes, statuses,
-- the reason of its last failure) is the service's JSON document.
CREATE TABLE lbaas_objects (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	project_id TEXT NOT NULL DEFAULT '',
	loadbalancer_id TEXT NOT NULL DEFAULT '',
	parent_id TEXT NOT NULL DEFAULT '',
	host TEXT NOT NULL DEFAULT '',
	doc TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX lbaas_objects_kind ON lbaas_objects (kind, created_at, id);
CREATE INDEX lbaas_objects_project ON lbaas_objects (kind, project_id, created_at, id);
CREATE INDEX lbaas_objects_lb ON lbaas_objects (loadbalancer_id);
CREATE INDEX lbaas_objects_host ON lbaas_objects (host, kind);

-- The load balancers' desired-state revision: every change an agent must
-- apply moves it (status reports from agents do not).
INSERT INTO epochs (name, value) VALUES ('lbaas', 1);

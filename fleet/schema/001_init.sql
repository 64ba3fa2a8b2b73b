-- 001_init.sql: fleet schema version 1: the version table and the hosts, devices, reports and events tables
-- Idempotent: every statement is CREATE ... IF NOT EXISTS or ON CONFLICT DO NOTHING, so running
-- this file again (or from two hosts at once: the advisory lock serialises them) changes nothing.
BEGIN;
SELECT pg_advisory_xact_lock(727465); -- 'jetsam schema' lock, shared by every migration file

CREATE TABLE IF NOT EXISTS jetsam_schema_version (
	version integer PRIMARY KEY,
	name text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);

-- one row per jetsamd instance (its [fleet] host id)
CREATE TABLE IF NOT EXISTS hosts (
	host_id text PRIMARY KEY,
	hostname text,
	daemon text, -- "jetsamd 0.1.0"
	first_seen timestamptz NOT NULL DEFAULT now(),
	last_seen timestamptz NOT NULL DEFAULT now()
);

-- a host's view of a phone: PROTOCOL.md DEVICE (a phone moved between hosts has a row on each)
CREATE TABLE IF NOT EXISTS devices (
	host_id text NOT NULL REFERENCES hosts (host_id),
	udid text NOT NULL,
	name text,
	product text,
	os_version text,
	build text,
	connection text, -- USB | Network | NULL
	attached boolean NOT NULL DEFAULT false,
	state text NOT NULL DEFAULT 'attached'
		CHECK (state IN ('attached', 'syncing', 'idle', 'locked', 'untrusted', 'error', 'detached')),
	error text,
	first_seen timestamptz,
	last_seen timestamptz,
	last_sync timestamptz,
	reports integer NOT NULL DEFAULT 0,
	shipped_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (host_id, udid)
);

-- PROTOCOL.md REPORT, keyed by (host_id, key); key is "incident:<id>" or "sha256:<hex>"
CREATE TABLE IF NOT EXISTS reports (
	host_id text NOT NULL REFERENCES hosts (host_id),
	key text NOT NULL CHECK (key ~ '^(incident|sha256):.+'),
	incident text,
	udid text,
	path text,
	size bigint,
	sha256 text,
	status text NOT NULL CHECK (status IN ('ok', 'skipped', 'error')),
	error text,
	variant text,
	product text,
	os_version text,
	build text,
	timestamp text, -- as written in the report
	time timestamptz, -- the report's timestamp, parsed
	n_events integer NOT NULL DEFAULT 0,
	collected_at timestamptz NOT NULL,
	removed_from_device boolean NOT NULL DEFAULT false,
	facts jsonb, -- optional ([fleet] ship_facts, off by default)
	raw bytea, -- optional ([fleet] ship_raw, off by default)
	shipped_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (host_id, key)
);
CREATE INDEX IF NOT EXISTS reports_udid ON reports (udid, collected_at);
CREATE INDEX IF NOT EXISTS reports_product ON reports (product, build);

-- one kill event of a report: PROTOCOL.md EVENT; seq is its 0-based position in the report
CREATE TABLE IF NOT EXISTS events (
	host_id text NOT NULL,
	report_key text NOT NULL,
	seq integer NOT NULL CHECK (seq >= 0),
	udid text,
	product text,
	os_version text,
	build text,
	time timestamptz, -- from the report's timestamp
	process text,
	pid integer,
	uuid text,
	reason text,
	role text CHECK (role IN ('foreground', 'daemon', 'background')),
	priority integer,
	rpages bigint,
	page_size bigint,
	footprint_bytes bigint,
	limit_bytes bigint,
	lifetime_max_pages bigint,
	event jsonb, -- the whole EVENT object as jetsamd's events command returns it
	PRIMARY KEY (host_id, report_key, seq),
	FOREIGN KEY (host_id, report_key) REFERENCES reports (host_id, key) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE INDEX IF NOT EXISTS events_udid ON events (udid, time);
CREATE INDEX IF NOT EXISTS events_limits ON events (product, build, role, limit_bytes)
	WHERE limit_bytes IS NOT NULL;

INSERT INTO jetsam_schema_version (version, name) VALUES (1, '001_init')
	ON CONFLICT (version) DO NOTHING;
COMMIT;

-- 002_views.sql: fleet schema version 2: sort-key functions and the views that answer the farm's questions
-- Idempotent: CREATE OR REPLACE only. A later migration that changes a view's columns drops it
-- first (DROP VIEW IF EXISTS), as CREATE OR REPLACE VIEW can only append columns.
BEGIN;
SELECT pg_advisory_xact_lock(727465);

-- "26.4.1" -> {26,4,1}: the numeric order jetsamd uses for OS versions (NULL/'' first)
CREATE OR REPLACE FUNCTION jetsam_version_key(v text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN v IS NULL OR v = '' THEN '{}'::bigint[] ELSE
		(SELECT array_agg(coalesce(nullif(substring(p FROM '^[0-9]+'), '')::bigint, 0) ORDER BY n)
		 FROM unnest(string_to_array(v, '.')) WITH ORDINALITY AS u(p, n)) END
$$;

-- builds: numeric major first ("9A334" < "10A403"), then length, then text (as jetsamd)
CREATE OR REPLACE FUNCTION jetsam_build_key(b text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT lpad(coalesce(substring(coalesce(b, '') FROM '^[0-9]{1,18}'), '0'), 19, '0')
		|| lpad(length(coalesce(b, ''))::text, 10, '0') || coalesce(b, '')
$$;

CREATE OR REPLACE FUNCTION jetsam_role_rank(r text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE r WHEN 'foreground' THEN 0 WHEN 'daemon' THEN 1 WHEN 'background' THEN 2
		ELSE 9 END
$$;

-- Every kill event once across the farm: a report key names the same report on every host
-- (an incident id, or the sha256 of the bytes), so a phone moved between hosts whose report
-- two hosts collected counts once, from the host that collected it first. time is the
-- event's time, else the report's collection time.
CREATE OR REPLACE VIEW jetsam_events_unique AS
SELECT DISTINCT ON (e.report_key, e.seq)
	e.host_id, e.report_key, e.seq, e.udid, e.product, e.os_version, e.build,
	coalesce(e.time, r.collected_at) AS time, e.process, e.pid, e.reason, e.role,
	e.rpages, e.page_size, e.footprint_bytes, e.limit_bytes
FROM events e
JOIN reports r ON r.host_id = e.host_id AND r.key = e.report_key
ORDER BY e.report_key, e.seq, r.collected_at, e.host_id;

-- Per product, build and role: what PROTOCOL.md "limits" returns, across every host.
-- Built on jetsam_events_unique: every event once.
-- count = events with a limit, phones = distinct udids, hosts = distinct host ids,
-- median = lower middle observed value (percentile_disc), first/last_seen from the event's
-- time (the report's collection time when the report states none), processes sorted
-- bytewise. previous_build/previous_median/change_pct: the DRIFT of "limits" (foreground
-- rows whose median differs by more than 5 % from the previous build's, by OS version then
-- build); change_ratio: the same change for every row with a previous build (no threshold),
-- what jetsamd exports as jetsamd_limit_change_ratio. Order rows with
--   ORDER BY product, jetsam_version_key(os_version), jetsam_build_key(build),
--            jetsam_role_rank(role)
CREATE OR REPLACE VIEW jetsam_limits AS
WITH obs AS (
	SELECT host_id, coalesce(product, '') AS product, coalesce(build, '') AS build,
		role, os_version, udid, process, limit_bytes, time AS t
	FROM jetsam_events_unique
	WHERE limit_bytes IS NOT NULL AND role IS NOT NULL
), g AS (
	SELECT product, build, role,
		min(os_version COLLATE "C") AS os_version,
		count(*) AS count,
		count(DISTINCT udid) AS phones,
		count(DISTINCT host_id) AS hosts,
		min(limit_bytes) AS min,
		percentile_disc(0.5) WITHIN GROUP (ORDER BY limit_bytes) AS median,
		max(limit_bytes) AS max,
		min(t) AS first_seen,
		max(t) AS last_seen,
		coalesce(array_agg(DISTINCT process COLLATE "C" ORDER BY process COLLATE "C")
			FILTER (WHERE process IS NOT NULL), '{}') AS processes
	FROM obs
	GROUP BY product, build, role
)
SELECT nullif(g.product, '') AS product, g.os_version, nullif(g.build, '') AS build, g.role,
	g.count, g.phones, g.hosts, g.min, g.median, g.max, g.first_seen, g.last_seen,
	g.processes::text[] AS processes,
	CASE WHEN abs(c.pct) > 5 AND g.role = 'foreground' THEN nullif(p.build, '') END
		AS previous_build,
	CASE WHEN abs(c.pct) > 5 AND g.role = 'foreground' THEN p.median END AS previous_median,
	CASE WHEN abs(c.pct) > 5 AND g.role = 'foreground' THEN round(c.pct, 1) END AS change_pct,
	round(c.pct / 100, 6)::double precision AS change_ratio
FROM g
LEFT JOIN LATERAL (
	SELECT q.build, q.median FROM g q
	WHERE q.product = g.product AND q.role = g.role AND q.build <> g.build AND q.median > 0
		AND (jetsam_version_key(q.os_version), jetsam_build_key(q.build))
			< (jetsam_version_key(g.os_version), jetsam_build_key(g.build))
	ORDER BY jetsam_version_key(q.os_version) DESC, jetsam_build_key(q.build) DESC
	LIMIT 1
) p ON true
LEFT JOIN LATERAL (
	SELECT (g.median - p.median) * 100.0 / p.median AS pct
) c ON true;

-- every (host, phone) row, with the host's last contact; current = the host that saw the
-- phone last (a phone moved between hosts has one current row)
CREATE OR REPLACE VIEW jetsam_devices AS
SELECT d.host_id, d.udid, d.name, d.product, d.os_version, d.build, d.connection, d.attached,
	d.state, d.error, d.first_seen, d.last_seen, d.last_sync, d.reports,
	h.last_seen AS host_last_seen,
	row_number() OVER (PARTITION BY d.udid ORDER BY d.last_seen DESC NULLS LAST,
		d.host_id) = 1 AS current
FROM devices d
JOIN hosts h ON h.host_id = d.host_id;

-- kill events of the last 24 hours, each once (see jetsam_events_unique)
CREATE OR REPLACE VIEW jetsam_kills_recent AS
SELECT host_id, udid, product, os_version, build, process, pid, reason, role,
	footprint_bytes, limit_bytes, time, report_key
FROM jetsam_events_unique
WHERE time > now() - interval '24 hours';

-- kills per product, build, role and reason across the farm, each event once
CREATE OR REPLACE VIEW jetsam_kills AS
SELECT product, build, role, reason, count(*) AS kills, count(DISTINCT udid) AS phones,
	count(DISTINCT host_id) AS hosts, min(time) AS first_seen, max(time) AS last_seen
FROM jetsam_events_unique
GROUP BY product, build, role, reason;

-- per host: phones, reports by status, events, and the last shipment
CREATE OR REPLACE VIEW jetsam_hosts AS
SELECT h.host_id, h.hostname, h.daemon, h.first_seen, h.last_seen,
	(SELECT count(*) FROM devices d WHERE d.host_id = h.host_id) AS devices,
	(SELECT count(*) FROM devices d WHERE d.host_id = h.host_id AND d.attached) AS attached,
	(SELECT count(*) FROM reports r WHERE r.host_id = h.host_id) AS reports,
	(SELECT count(*) FROM reports r WHERE r.host_id = h.host_id AND r.status = 'ok')
		AS reports_ok,
	(SELECT count(*) FROM reports r WHERE r.host_id = h.host_id AND r.status = 'error')
		AS reports_error,
	(SELECT count(*) FROM events e WHERE e.host_id = h.host_id) AS events,
	(SELECT max(r.shipped_at) FROM reports r WHERE r.host_id = h.host_id) AS last_report_shipped
FROM hosts h;

INSERT INTO jetsam_schema_version (version, name) VALUES (2, '002_views')
	ON CONFLICT (version) DO NOTHING;
COMMIT;

-- pgbench: after pg_register.sql (same session, :eid from its \gset), the bookkeeping
-- transaction of publishing the committed event (shared/src/bus/relay.rs
-- publish_committed: claim_ids, then mark_published), without the broker round trip.
BEGIN;
SELECT event_id, topic, message_key, event_type, payload, properties, created_at, attempts
FROM alpes.outbox
WHERE event_id = ANY(ARRAY[:eid]::uuid[]) AND published_at IS NULL
ORDER BY created_at, event_id
FOR UPDATE SKIP LOCKED;
UPDATE alpes.outbox SET published_at = clock_timestamp(), attempts = attempts + 1, last_error = NULL
WHERE event_id = ANY(ARRAY[:eid]::uuid[]);
COMMIT;

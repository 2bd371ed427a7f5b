-- The write path without a connection across the broker (docs/DECISIONS.md, "Write path").
--
-- `available_at` doubles as a lease: a row a function is publishing inline after its
-- commit, or a row a relay claimed, is not due until the lease ends; a publisher that
-- dies mid-way leaves a row that simply becomes due again.
--
-- Per-key order: a row is held back while an earlier unpublished row of the same topic
-- and key is not due (failed and waiting for its retry, or leased to a publisher).
CREATE INDEX outbox_pending_key ON alpes.outbox (topic, message_key, created_at, event_id)
    WHERE published_at IS NULL;
CREATE INDEX outbox_pending_key ON reportes.outbox (topic, message_key, created_at, event_id)
    WHERE published_at IS NULL;

-- Retention: published rows and inbox records older than the configured age are deleted
-- in bounded batches, oldest first.
CREATE INDEX outbox_published ON alpes.outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX outbox_published ON reportes.outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX processed_events_age ON alpes.processed_events (processed_at);
CREATE INDEX processed_events_age ON reportes.processed_events (processed_at);

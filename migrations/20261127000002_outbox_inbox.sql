-- Transactional outbox and inbox, one pair per context (each context may be its own
-- database). Identical shapes, so the store's code is shared and takes the schema name
-- from a fixed list (never from input).

-- Outbox: events written in the same transaction as the state change they announce,
-- published after commit; the relay sweeps whatever is left.
CREATE TABLE alpes.outbox (
    event_id       uuid        PRIMARY KEY,
    topic          text        NOT NULL,
    message_key    text        NOT NULL,
    event_type     text        NOT NULL,
    payload        bytea       NOT NULL,
    properties     jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    available_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts       integer     NOT NULL DEFAULT 0,
    last_error     text,
    published_at   timestamptz
);
CREATE INDEX outbox_pending ON alpes.outbox (available_at, created_at) WHERE published_at IS NULL;

CREATE TABLE reportes.outbox (LIKE alpes.outbox INCLUDING ALL);

-- Inbox: the events each consumer has processed, recorded in the same transaction as
-- the consumer's effects, so a redelivery has no second effect.
CREATE TABLE alpes.processed_events (
    consumer       text        NOT NULL,
    event_id       text        NOT NULL,
    processed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE reportes.processed_events (LIKE alpes.processed_events INCLUDING ALL);

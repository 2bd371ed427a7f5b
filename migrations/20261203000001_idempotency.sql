-- Idempotent creates in one place (docs/DECISIONS.md, "Idempotency").
--
-- A create that carries its own `id` claims it here, in the transaction that stores the
-- resource, with the body it was sent with: the same id with the same body later is a
-- replay (200 with the stored resource), with another body a conflict (409). Replaces the
-- `creation_request` column each table had; the requests stored there move over, so
-- replays of creates made before this migration are still recognised.

CREATE TABLE alpes.idempotency (
    -- What the id names (`influencer`, `campaign`, `contract`): ids are unique per kind.
    scope      text        NOT NULL,
    id         uuid        NOT NULL,
    -- The create request as the client sent it (its `id` included).
    request    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, id)
);
CREATE TABLE reportes.idempotency (LIKE alpes.idempotency INCLUDING ALL);

INSERT INTO alpes.idempotency (scope, id, request, created_at)
    SELECT 'influencer', id, creation_request, fecha_creacion
    FROM alpes.influencers WHERE creation_request IS NOT NULL;
INSERT INTO alpes.idempotency (scope, id, request, created_at)
    SELECT 'campaign', id, creation_request, fecha_creacion
    FROM alpes.campaigns WHERE creation_request IS NOT NULL;
INSERT INTO alpes.idempotency (scope, id, request, created_at)
    SELECT 'contract', id, creation_request, fecha_creacion
    FROM alpes.contracts WHERE creation_request IS NOT NULL;

ALTER TABLE alpes.influencers DROP COLUMN creation_request;
ALTER TABLE alpes.campaigns DROP COLUMN creation_request;
ALTER TABLE alpes.contracts DROP COLUMN creation_request;

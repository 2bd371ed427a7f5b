-- The two bounded contexts, each in its own schema. The same ordered set of migrations
-- runs on every database: a deployment may keep both contexts in one database or give
-- each its own (as the existing system did); a function only touches its own schema.
CREATE SCHEMA IF NOT EXISTS alpes;
CREATE SCHEMA IF NOT EXISTS reportes;

-- Influencers, campaigns and contracts (context `alpes`).

CREATE TABLE alpes.influencers (
    id                  uuid        PRIMARY KEY,
    nombre              text        NOT NULL CHECK (length(nombre) BETWEEN 1 AND 200),
    email               text        NOT NULL CHECK (email = lower(email)),
    categorias          text[]      NOT NULL CHECK (cardinality(categorias) BETWEEN 1 AND 10),
    plataformas         text[]      NOT NULL DEFAULT '{}',
    descripcion         text,
    biografia           text,
    sitio_web           text,
    telefono            text,
    estado              text        NOT NULL CHECK (estado IN ('pendiente', 'activo', 'inactivo', 'suspendido')),
    -- The validated create request, to tell an idempotent replay (same id, same body: 200)
    -- from a conflicting one (409). NULL when an event created the row.
    creation_request    jsonb,
    fecha_creacion      timestamptz NOT NULL,
    fecha_actualizacion timestamptz NOT NULL
);
-- Rule: an email belongs to one influencer.
CREATE UNIQUE INDEX influencers_email_key ON alpes.influencers (email);
CREATE INDEX influencers_listing ON alpes.influencers (fecha_creacion, id);
CREATE INDEX influencers_categorias ON alpes.influencers USING gin (categorias);

CREATE TABLE alpes.campaigns (
    id                  uuid          PRIMARY KEY,
    nombre              text          NOT NULL,
    descripcion         text          NOT NULL,
    tipo_comision       text          NOT NULL CHECK (tipo_comision IN ('cpa', 'cpl', 'cpc')),
    valor_comision      numeric(17,2) NOT NULL CHECK (valor_comision > 0),
    moneda              char(3)       NOT NULL,
    categorias_objetivo text[]        NOT NULL DEFAULT '{}',
    fecha_inicio        timestamptz   NOT NULL,
    fecha_fin           timestamptz   CHECK (fecha_fin IS NULL OR fecha_fin > fecha_inicio),
    -- Influencers may be named by other producers (`inf-12345`): text, not uuid.
    influencer_id       text,
    influencer_nombre   text,
    influencer_email    text,
    tipo_contrato       text          NOT NULL CHECK (tipo_contrato IN ('puntual', 'temporal', 'exclusivo', 'colaboracion')),
    monto_base          numeric(17,2) NOT NULL CHECK (monto_base > 0),
    entregables         text,
    estado              text          NOT NULL CHECK (estado IN ('borrador', 'activa', 'pausada', 'finalizada', 'cancelada')),
    -- The welcome campaign created for a newly registered influencer.
    bienvenida          boolean       NOT NULL DEFAULT false,
    -- The validated create request, to tell an idempotent replay (same id, same body: 200)
    -- from a conflicting one (409). NULL when an event created the row.
    creation_request    jsonb,
    fecha_creacion      timestamptz   NOT NULL,
    fecha_actualizacion timestamptz   NOT NULL,
    CHECK ((influencer_id IS NULL) = (influencer_nombre IS NULL)
       AND (influencer_id IS NULL) = (influencer_email IS NULL)),
    CHECK (NOT bienvenida OR influencer_id IS NOT NULL)
);
-- Rule: exactly one welcome campaign per influencer, however often the event arrives.
CREATE UNIQUE INDEX campaigns_one_welcome_per_influencer ON alpes.campaigns (influencer_id) WHERE bienvenida;
CREATE INDEX campaigns_listing ON alpes.campaigns (fecha_creacion, id);
CREATE INDEX campaigns_influencer ON alpes.campaigns (influencer_id, fecha_creacion, id);

CREATE TABLE alpes.contracts (
    id                  uuid          PRIMARY KEY,
    -- Both may come from other producers' events (`inf-12345`, `camp-67890`).
    influencer_id       text          NOT NULL,
    campaign_id         text          NOT NULL,
    monto_total         numeric(17,2) NOT NULL CHECK (monto_total > 0),
    moneda              char(3)       NOT NULL,
    tipo_contrato       text          NOT NULL CHECK (tipo_contrato IN ('puntual', 'temporal', 'exclusivo', 'colaboracion')),
    fecha_inicio        timestamptz,
    fecha_fin           timestamptz   CHECK (fecha_fin IS NULL OR fecha_inicio IS NULL OR fecha_fin > fecha_inicio),
    entregables         text,
    estado              text          NOT NULL CHECK (estado IN ('activo', 'cancelado', 'completado')),
    -- The validated create request, to tell an idempotent replay (same id, same body: 200)
    -- from a conflicting one (409). NULL when an event created the row.
    creation_request    jsonb,
    fecha_creacion      timestamptz   NOT NULL,
    fecha_actualizacion timestamptz   NOT NULL
);
-- Rule: one contract per (influencer, campaign).
CREATE UNIQUE INDEX contracts_influencer_campaign_key ON alpes.contracts (influencer_id, campaign_id);
-- Rule: an influencer holds at most one active exclusive contract.
CREATE UNIQUE INDEX contracts_one_active_exclusive_per_influencer ON alpes.contracts (influencer_id)
    WHERE tipo_contrato = 'exclusivo' AND estado = 'activo';
CREATE INDEX contracts_listing ON alpes.contracts (fecha_creacion, id);
CREATE INDEX contracts_campaign ON alpes.contracts (campaign_id);

-- Reports (context `reportes`).

CREATE TABLE reportes.reports (
    id                  uuid          PRIMARY KEY,
    tipo_reporte        text          NOT NULL CHECK (tipo_reporte IN ('campana', 'contrato')),
    nombre              text          NOT NULL,
    estado              text          NOT NULL CHECK (estado IN ('activo', 'completado', 'cancelado')),
    campaign_id         text          NOT NULL,
    influencer_id       text,
    contract_id         text,
    monto_total         numeric(17,2),
    moneda              char(3),
    motivo              text,
    -- The fields of the event the report was made from, as received.
    datos_origen        jsonb         NOT NULL DEFAULT '{}',
    fecha_creacion      timestamptz   NOT NULL,
    fecha_actualizacion timestamptz   NOT NULL,
    CHECK ((monto_total IS NULL) = (moneda IS NULL)),
    CHECK (estado <> 'cancelado' OR motivo IS NOT NULL)
);
-- Rule: one report per campaign.
CREATE UNIQUE INDEX reports_one_per_campaign ON reportes.reports (campaign_id);
CREATE INDEX reports_listing ON reportes.reports (fecha_creacion, id);

-- A compensation that arrived before its campaign's report existed (the contract step
-- and the report step run in parallel): applied when the report is created.
CREATE TABLE reportes.pending_compensations (
    campaign_id         text        PRIMARY KEY,
    motivo              text        NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now()
);

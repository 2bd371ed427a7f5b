-- pgbench: the transaction POST /influencers commits (shared/src/store/influencers.rs
-- insert + shared/src/store/outbox.rs enqueue), with values of the same sizes.
\set n random(1, 1000000000)
BEGIN;
INSERT INTO alpes.influencers (id, nombre, email, categorias, plataformas, descripcion,
    biografia, sitio_web, telefono, estado, fecha_creacion, fecha_actualizacion)
VALUES (gen_random_uuid(), 'Bench ' || :n, 'pg-' || gen_random_uuid() || '@bench.example.com',
    ARRAY['moda', 'viajes'], ARRAY['instagram'], NULL, NULL, NULL, NULL, 'pendiente',
    now(), now());
INSERT INTO alpes.outbox (event_id, topic, message_key, event_type, payload, properties)
VALUES (gen_random_uuid(), 'eventos-influencers', gen_random_uuid()::text, 'InfluencerRegistrado',
    decode(repeat('0123456789abcdef', 10), 'hex'),
    jsonb_build_object('event_id', gen_random_uuid()::text, 'event_type', 'InfluencerRegistrado',
        'correlation_id', gen_random_uuid()::text, 'occurred_at', '2026-11-27T10:00:00.123Z',
        'producer', 'register-influencer'))
RETURNING event_id AS eid \gset
COMMIT;

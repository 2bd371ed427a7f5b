#!/usr/bin/env python3
"""Interop with the existing producers and consumers (issue #6 item 5, SPEC sections 5 and 7).

The official Python Pulsar client (pulsar-client, `pulsar.schema.AvroSchema` records, as the
existing services use it) talks to a running system:

1. Contract self-check: the records below are the contract's. Each record's schema equals its
   topic's `.avsc`, and encoding every golden vector's values reproduces its bytes (then
   decodes back to them).
2. Subscribes with AvroSchema consumers to `eventos-campanas` and `eventos-reportes`
   (subscriptions named after RUN_ID, initial position Latest, before anything is published).
3. Publishes with AvroSchema producers and no message properties, as the existing tools do:
   an `EventoCrearInfluencer` command, an `EventoCampanaCreada` naming an influencer, and an
   `EventoContratoCreado` for a campaign nobody knows.
4. Waits through the functions' GET endpoints for: the influencer, its one welcome campaign,
   that campaign's contract and `completado` report; the published campaign's contract and
   `completado` report; the unknown campaign's contract report (SPEC section 7, flow 4).
5. Reads with the AvroSchema consumers the welcome campaign's `CampanaCreada` and the
   `ReporteCreado` / `ReporteActualizado` of those reports (decoded with the writer schema the
   broker's registry holds for each message), checks their key fields, acknowledges them, then
   unsubscribes.

Configuration (environment): PULSAR_URL, REGISTER_INFLUENCER_URL, CREATE_CAMPAIGN_URL,
SEND_CONTRACT_URL, GENERATE_REPORT_URL (base URLs such as http://127.0.0.1:4321), RUN_ID (a
unique string put into names, emails and subscriptions), PULSAR_NAMESPACE (`tenant/namespace` of
the topics, as the functions and the bridge read it; default public/default), INTEROP_TIMEOUT
(seconds each wait may take, default 60). CONTRACT_AVRO_DIR and CONTRACT_VECTORS point at another
copy of the contract (default: the repository's, shared/src/events/avro and
shared/tests/data/contract-vectors.json).

`interop.py --self-check` runs step 1 alone (no running system needed).

Exit status 0 when everything was reached; 1 with a message naming what was not reached and the
last state seen.
"""

import datetime
import json
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pulsar
from pulsar.schema import Array, AvroSchema, Float, Long, Record, String

REPO = Path(__file__).resolve().parents[2]
AVRO_DIR = Path(os.environ.get("CONTRACT_AVRO_DIR") or REPO / "shared/src/events/avro")
VECTORS = Path(
    os.environ.get("CONTRACT_VECTORS") or REPO / "shared/tests/data/contract-vectors.json"
)
POLL_EVERY = 0.2
HTTP_TIMEOUT = 10


# ---------------------------------------------------------------------------------------------
# The contract's records, as the existing services define them: every record is
# {data: [null, Payload]} and every payload field a nullable union (pulsar.schema's default for
# a field that is not `required`). No namespace, fields in declaration order.
# ---------------------------------------------------------------------------------------------


class CrearInfluencerPayload(Record):
    id = String()
    nombre = String()
    email = String()
    categorias = Array(String())
    descripcion = String()
    biografia = String()
    sitio_web = String()
    telefono = String()
    fecha_creacion = String()
    fecha_actualizacion = String()


class EventoCrearInfluencer(Record):
    data = CrearInfluencerPayload()


class InfluencerRegistradoPayload(Record):
    id_influencer = String()
    nombre = String()
    email = String()
    categorias = Array(String())
    fecha_registro = Long()


class EventoInfluencerRegistrado(Record):
    data = InfluencerRegistradoPayload()


class CampanaCreadaPayload(Record):
    campana_id = String()
    nombre = String()
    descripcion = String()
    tipo_comision = String()
    valor_comision = Float()
    moneda = String()
    categorias_objetivo = Array(String())
    fecha_inicio = String()
    fecha_fin = String()
    influencer_id = String()
    influencer_nombre = String()
    influencer_email = String()
    monto_base = Float()
    entregables = String()
    tipo_contrato = String()
    fecha_creacion = String()


class EventoCampanaCreada(Record):
    data = CampanaCreadaPayload()


class ContratoCreadoPayload(Record):
    id_contrato = String()
    id_influencer = String()
    id_campana = String()
    monto_total = Float()
    moneda = String()
    tipo_contrato = String()
    fecha_creacion = String()


class EventoContratoCreado(Record):
    data = ContratoCreadoPayload()


class ContratoErrorPayload(Record):
    id_contrato = String()
    id_influencer = String()
    id_campana = String()
    monto_total = Float()
    moneda = String()
    tipo_contrato = String()
    fecha_creacion = String()
    error = String()
    error_detalle = String()


class EventoContratoError(Record):
    data = ContratoErrorPayload()


class ReportePayload(Record):
    id_reporte = String()
    tipo_evento = String()
    nombre = String()
    tipo_reporte = String()
    estado = String()
    id_campana = String()
    id_contrato = String()
    id_influencer = String()
    monto_total = Float()
    moneda = String()
    motivo = String()
    fecha_evento = String()


class EventoReporte(Record):
    data = ReportePayload()


# One record per topic (SPEC section 5).
RECORDS = {
    "eventos-crear-influencer": EventoCrearInfluencer,
    "eventos-influencers": EventoInfluencerRegistrado,
    "eventos-campanas": EventoCampanaCreada,
    "eventos-contratos": EventoContratoCreado,
    "eventos-contratos-error": EventoContratoError,
    "eventos-reportes": EventoReporte,
}


class Failure(Exception):
    """What was not reached; the script exits 1 with this message."""


def say(message):
    print(f"interop: {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# 1. The contract self-check.
# ---------------------------------------------------------------------------------------------


def payload_fields(record_cls):
    return list(record_cls._fields["data"]._fields)


def as_dict(record):
    """The payload of a decoded {data: Payload} record as a plain dict (None if no data)."""
    data = record.data
    if data is None:
        return None
    return {name: getattr(data, name) for name in data._fields}


def self_check():
    problems = []
    for topic, record_cls in RECORDS.items():
        path = AVRO_DIR / f"{topic}.avsc"
        try:
            expected = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise Failure(f"contract self-check: cannot read {path}: {error}") from error
        actual = record_cls.schema()
        if actual != expected:
            problems.append(
                f"{record_cls.__name__}: its schema differs from {path}:\n"
                f"  record: {json.dumps(actual, sort_keys=True)}\n"
                f"  .avsc:  {json.dumps(expected, sort_keys=True)}"
            )
    try:
        vectors = json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]
    except (OSError, ValueError, KeyError) as error:
        raise Failure(f"contract self-check: cannot read {VECTORS}: {error}") from error
    if sorted(vector["topic"] for vector in vectors) != sorted(RECORDS):
        problems.append(
            f"{VECTORS} has vectors for {sorted(v['topic'] for v in vectors)}, "
            f"expected one per topic {sorted(RECORDS)}"
        )
    for vector in vectors:
        record_cls = RECORDS.get(vector["topic"])
        if record_cls is None:
            continue
        if vector["record"] != record_cls.__name__:
            problems.append(
                f"vector of {vector['topic']} is a {vector['record']}, the record is "
                f"{record_cls.__name__}"
            )
        schema = AvroSchema(record_cls)
        encoded = schema.encode(record_cls(data=dict(vector["data"]))).hex()
        if encoded != vector["avro_hex"]:
            problems.append(
                f"{record_cls.__name__}: encoding the vector's values gives\n"
                f"  {encoded}\nnot the golden\n  {vector['avro_hex']}"
            )
            continue
        decoded = as_dict(schema.decode(bytes.fromhex(vector["avro_hex"])))
        if decoded != vector["data"] or list(decoded) != payload_fields(record_cls):
            problems.append(
                f"{record_cls.__name__}: the golden bytes decode to {decoded}, not {vector['data']}"
            )
    if problems:
        raise Failure("contract self-check failed:\n" + "\n".join(problems))
    return len(RECORDS), len(vectors)


# ---------------------------------------------------------------------------------------------
# HTTP and polling.
# ---------------------------------------------------------------------------------------------


class Config:
    def __init__(self):
        missing = [
            name
            for name in (
                "PULSAR_URL",
                "REGISTER_INFLUENCER_URL",
                "CREATE_CAMPAIGN_URL",
                "SEND_CONTRACT_URL",
                "GENERATE_REPORT_URL",
                "RUN_ID",
            )
            if not os.environ.get(name, "").strip()
        ]
        if missing:
            raise Failure(f"missing environment variables: {', '.join(missing)}")
        self.pulsar_url = os.environ["PULSAR_URL"].strip()
        self.namespace = (os.environ.get("PULSAR_NAMESPACE") or "public/default").strip().strip("/")
        if not re.fullmatch(r"[A-Za-z0-9._-]+/[A-Za-z0-9._-]+", self.namespace):
            raise Failure(f"PULSAR_NAMESPACE {self.namespace!r} is not tenant/namespace")
        self.register_influencer = os.environ["REGISTER_INFLUENCER_URL"].strip().rstrip("/")
        self.create_campaign = os.environ["CREATE_CAMPAIGN_URL"].strip().rstrip("/")
        self.send_contract = os.environ["SEND_CONTRACT_URL"].strip().rstrip("/")
        self.generate_report = os.environ["GENERATE_REPORT_URL"].strip().rstrip("/")
        # Subscription names and emails take it: keep it to safe characters.
        self.run_id = re.sub(r"[^A-Za-z0-9._-]", "-", os.environ["RUN_ID"].strip())
        try:
            self.timeout = float(os.environ.get("INTEROP_TIMEOUT") or 60)
        except ValueError as error:
            raise Failure(f"INTEROP_TIMEOUT: {error}") from error

    def topic(self, name):
        return f"persistent://{self.namespace}/{name}"


def get_json(url, run_id):
    """GET url: (status, parsed JSON or text). Connection errors raise Failure-free OSError."""
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "x-request-id": f"interop-{run_id}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    text = body.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def get_list(url, run_id):
    """GET url answering 200 with a JSON array; Failure-free: (list or None, last state)."""
    try:
        status, body = get_json(url, run_id)
    except OSError as error:
        return None, f"GET {url}: {error}"
    if status != 200 or not isinstance(body, list):
        return None, f"GET {url}: {status} {body}"
    return body, None


def eventually(what, timeout, probe):
    """Polls probe() every POLL_EVERY s until it returns (True, value); Failure after timeout
    naming the last state (the second item of a (False, state) answer). A probe raises Failure
    itself when what it sees can never turn right."""
    deadline = time.monotonic() + timeout
    while True:
        done, value = probe()
        if done:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"{what}: not reached within {timeout:g}s; last seen: {value}")
        time.sleep(POLL_EVERY)


def expect(what, actual, expected):
    if actual != expected:
        raise Failure(f"{what}: {actual!r}, expected {expected!r}")


def the_one(items, what, url):
    """(True, item) for exactly one item, (False, state) for none; two or more fail at once."""
    if items is None:
        return False, url
    if len(items) > 1:
        raise Failure(f"{what}: {len(items)} found, expected one: {json.dumps(items, indent=1)}")
    if not items:
        return False, f"none yet ({url})"
    return True, items[0]


def wait_one(config, what, url, ready=None, never=None):
    """Waits until url lists exactly one item for which ready(item) is true. never(item) names a
    state it cannot leave (fails at once)."""

    def probe():
        items, error = get_list(url, config.run_id)
        if items is None:
            return False, error
        found, item = the_one(items, what, url)
        if not found:
            return False, item
        if never is not None and never(item):
            raise Failure(f"{what}: reached a state it never leaves: {json.dumps(item)}")
        if ready is not None and not ready(item):
            return False, json.dumps(item)
        return True, item

    return eventually(what, config.timeout, probe)


# ---------------------------------------------------------------------------------------------
# Pulsar.
# ---------------------------------------------------------------------------------------------


class DecodeWarnings(logging.Handler):
    """Catches the AvroSchema's 'Failed to decode ... with schema ...' warning: it logs it and
    then falls back to its own schema, so a message whose writer schema the registry cannot
    give (or that does not decode with it) would otherwise look decoded."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen = []

    def emit(self, record):
        message = record.getMessage()
        if "Failed to decode" in message:
            self.seen.append(message)


def utc_now():
    """The current UTC time, naive (the existing producers' dates carry no offset)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def naive_now(separator="T"):
    """A date as the existing Python producers write it: naive UTC, microseconds."""
    return utc_now().isoformat(sep=separator, timespec="microseconds")


class Received:
    """One message read by a consumer."""

    def __init__(self, message, decode_warnings):
        self.properties = message.properties()
        self.key = message.partition_key()
        self.schema_version = message.schema_version()
        self.data = None
        self.error = None
        before = len(decode_warnings.seen)
        try:
            value = message.value()
            self.data = as_dict(value)
        except Exception as error:  # noqa: BLE001 (any decode error is reported)
            self.error = f"{type(error).__name__}: {error}"
        if len(decode_warnings.seen) > before:
            self.error = "not decodable with its registered writer schema: " + "; ".join(
                decode_warnings.seen[before:]
            )

    def describe(self):
        if self.error:
            return f"key {self.key!r}: {self.error}"
        return f"key {self.key!r} properties {self.properties} data {self.data}"


class Expected:
    """A message some consumer must deliver: matches(data) says it is the one, check(received)
    raises Failure when a key field is wrong."""

    def __init__(self, name, ids, matches, check):
        self.name = name
        self.ids = ids
        self.matches = matches
        self.check = check
        self.found = None


def read_expected(config, consumers, expectations, decode_warnings):
    """Reads the consumers (acknowledging everything) until every expectation has its message,
    for at most config.timeout seconds. Messages of other tests on the shared topics are
    skipped; a message of ours (by key or ids) that does not decode fails."""
    our_ids = {identifier for expected in expectations for identifier in expected.ids}
    counts = {"read": 0, "foreign": 0, "foreign_undecodable": 0}
    deadline = time.monotonic() + config.timeout
    while any(expected.found is None for expected in expectations):
        if time.monotonic() >= deadline:
            missing = [expected.name for expected in expectations if expected.found is None]
            raise Failure(
                f"events not read within {config.timeout:g}s: {', '.join(missing)} "
                f"(read {counts['read']} messages, {counts['foreign']} of other producers)"
            )
        got_one = False
        for name, consumer in consumers.items():
            try:
                message = consumer.receive(timeout_millis=100)
            except pulsar.Timeout:
                continue
            got_one = True
            counts["read"] += 1
            received = Received(message, decode_warnings)
            consumer.acknowledge(message)
            if received.error:
                if received.key in our_ids:
                    raise Failure(
                        f"a message of ours on {name} does not decode: {received.describe()}"
                    )
                counts["foreign_undecodable"] += 1
                continue
            data = received.data or {}
            matched = False
            for expected in expectations:
                if expected.found is None and expected.matches(name, data):
                    expected.check(received)
                    expected.found = received
                    matched = True
                    break
            if not matched:
                counts["foreign"] += 1
        if not got_one:
            time.sleep(0.05)
    return counts


# ---------------------------------------------------------------------------------------------
# 2-5. Against the running system.
# ---------------------------------------------------------------------------------------------


def interop(config):
    started = time.monotonic()
    run = config.run_id
    short = uuid.uuid4().hex[:8]

    decode_warnings = DecodeWarnings()
    logging.getLogger().addHandler(decode_warnings)

    # The client's own C++ console logger: a Python `logger=` makes the process abort now and
    # then at exit ("terminate called without an active exception",
    # apache/pulsar-client-python#256).
    client = pulsar.Client(
        config.pulsar_url,
        operation_timeout_seconds=15,
        connection_timeout_ms=10000,
        logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn),
    )
    consumers = {}
    try:
        # a. Subscribe before publishing, at the topics' end.
        for name in ("eventos-campanas", "eventos-reportes"):
            subscription = f"interop-{run}-{short}-{name}"
            try:
                consumers[name] = client.subscribe(
                    config.topic(name),
                    subscription,
                    schema=AvroSchema(RECORDS[name]),
                    consumer_type=pulsar.ConsumerType.Exclusive,
                    initial_position=pulsar.InitialPosition.Latest,
                )
            except Exception as error:  # noqa: BLE001
                raise Failure(
                    f"subscribe with AvroSchema({RECORDS[name].__name__}) to {config.topic(name)} "
                    f"as {subscription} at {config.pulsar_url}: {type(error).__name__}: {error}"
                ) from error
        say(f"subscribed with AvroSchema consumers to {', '.join(consumers)} (run {run})")

        # b. Publish as the existing tools do: AvroSchema producers, no properties, no key.
        influencer_id = str(uuid.uuid4())
        influencer_nombre = f"Interop {run}"
        influencer_email = f"interop-{run}-{short}@example.com".lower()
        command = EventoCrearInfluencer(
            data=CrearInfluencerPayload(
                id=influencer_id,
                nombre=influencer_nombre,
                email=influencer_email,
                categorias=["Moda", "Viajes", "moda"],
                descripcion="Registrada por la prueba de interoperabilidad",
                biografia=None,
                sitio_web="https://interop.example.com",
                telefono="+34600111222",
                fecha_creacion=naive_now(),
                fecha_actualizacion=naive_now(),
            )
        )
        named_influencer_id = str(uuid.uuid4())
        campaign_id = str(uuid.uuid4())
        campaign_nombre = f"Campaña interop {run}"
        start = utc_now()
        campaign = EventoCampanaCreada(
            data=CampanaCreadaPayload(
                campana_id=campaign_id,
                nombre=campaign_nombre,
                descripcion="Campaña publicada por la prueba de interoperabilidad",
                tipo_comision="cpa",
                valor_comision=250.0,
                moneda="EUR",
                categorias_objetivo=["moda"],
                fecha_inicio=start.isoformat(sep=" ", timespec="microseconds"),
                fecha_fin=(start + datetime.timedelta(days=30)).isoformat(timespec="microseconds"),
                influencer_id=named_influencer_id,
                influencer_nombre=f"Nombrada {run}",
                influencer_email=f"interop-named-{run}-{short}@example.com".lower(),
                monto_base=300.5,
                entregables="2 publicaciones",
                tipo_contrato="temporal",
                fecha_creacion=naive_now(" "),
            )
        )
        unknown_campaign_id = str(uuid.uuid4())
        external_contract_id = str(uuid.uuid4())
        contract = EventoContratoCreado(
            data=ContratoCreadoPayload(
                id_contrato=external_contract_id,
                id_influencer=str(uuid.uuid4()),
                id_campana=unknown_campaign_id,
                monto_total=1234.5,
                moneda="EUR",
                tipo_contrato="colaboracion",
                fecha_creacion=naive_now(" "),
            )
        )
        for name, record in (
            ("eventos-crear-influencer", command),
            ("eventos-campanas", campaign),
            ("eventos-contratos", contract),
        ):
            record_cls = RECORDS[name]
            try:
                producer = client.create_producer(config.topic(name), schema=AvroSchema(record_cls))
                try:
                    producer.send(record)
                finally:
                    producer.close()
            except Exception as error:  # noqa: BLE001
                raise Failure(
                    f"publish a {record_cls.__name__} on {config.topic(name)} with AvroSchema: "
                    f"{type(error).__name__}: {error}"
                ) from error
        say(
            f"published EventoCrearInfluencer (id {influencer_id}), EventoCampanaCreada "
            f"(campana_id {campaign_id}), EventoContratoCreado (id_contrato "
            f"{external_contract_id}, unknown campana {unknown_campaign_id}); no properties"
        )

        # c. The flows, through the functions' GET endpoints.
        influencer_url = f"{config.register_influencer}/influencers/{influencer_id}"

        def the_influencer():
            try:
                status, body = get_json(influencer_url, run)
            except OSError as error:
                return False, f"GET {influencer_url}: {error}"
            return (
                status == 200,
                body if status == 200 else f"GET {influencer_url}: {status} {body}",
            )

        influencer = eventually(
            f"the influencer {influencer_id} registered by EventoCrearInfluencer",
            config.timeout,
            the_influencer,
        )
        expect("the influencer's email", influencer.get("email"), influencer_email)
        expect("the influencer's nombre", influencer.get("nombre"), influencer_nombre)
        expect("the influencer's estado", influencer.get("estado"), "pendiente")
        expect("the influencer's categorias", influencer.get("categorias"), ["moda", "viajes"])

        campaigns_url = f"{config.create_campaign}/campanas?" + urllib.parse.urlencode(
            {"influencer_id": influencer_id, "limite": 100}
        )
        welcome = wait_one(
            config, f"the welcome campaign of influencer {influencer_id}", campaigns_url
        )
        welcome_id = welcome["id"]
        expect(
            "the welcome campaign's nombre",
            welcome.get("nombre"),
            f"Campaña de bienvenida para {influencer_nombre}",
        )
        expect(
            "the welcome campaign's influencer_email",
            welcome.get("influencer_email"),
            influencer_email,
        )
        expect("the welcome campaign's tipo_contrato", welcome.get("tipo_contrato"), "puntual")

        def contract_of(influencer, campaign):
            return f"{config.send_contract}/contratos?" + urllib.parse.urlencode(
                {"id_influencer": influencer, "id_campana": campaign, "limite": 100}
            )

        def reports_of(campaign):
            return f"{config.generate_report}/reportes?" + urllib.parse.urlencode(
                {"id_campana": campaign, "limite": 100}
            )

        welcome_contract = wait_one(
            config,
            f"the contract of the welcome campaign {welcome_id}",
            contract_of(influencer_id, welcome_id),
        )
        expect("the welcome contract's estado", welcome_contract.get("estado"), "activo")
        expect("the welcome contract's monto_total", welcome_contract.get("monto_total"), 100.0)
        expect("the welcome contract's moneda", welcome_contract.get("moneda"), "USD")
        welcome_report = wait_one(
            config,
            f"the report of the welcome campaign {welcome_id} completado",
            reports_of(welcome_id),
            ready=lambda report: report.get("estado") == "completado",
            never=lambda report: report.get("estado") == "cancelado",
        )
        expect("the welcome report's tipo_reporte", welcome_report.get("tipo_reporte"), "campana")
        expect(
            "the welcome report's id_contrato (another id: a contract signed by another "
            "stack's send-contract on the shared topics)",
            welcome_report.get("id_contrato"),
            welcome_contract["id"],
        )

        published_contract = wait_one(
            config,
            f"the contract of the published campaign {campaign_id}",
            contract_of(named_influencer_id, campaign_id),
        )
        expect(
            "the published campaign's contract estado", published_contract.get("estado"), "activo"
        )
        expect(
            "the published campaign's contract monto_total",
            published_contract.get("monto_total"),
            300.5,
        )
        expect("the published campaign's contract moneda", published_contract.get("moneda"), "EUR")
        expect(
            "the published campaign's contract tipo_contrato",
            published_contract.get("tipo_contrato"),
            "temporal",
        )
        published_report = wait_one(
            config,
            f"the report of the published campaign {campaign_id} completado",
            reports_of(campaign_id),
            ready=lambda report: report.get("estado") == "completado",
            never=lambda report: report.get("estado") == "cancelado",
        )
        expect(
            "the published campaign's report tipo_reporte",
            published_report.get("tipo_reporte"),
            "campana",
        )
        expect(
            "the published campaign's report nombre",
            published_report.get("nombre"),
            f"Reporte de campaña: {campaign_nombre}",
        )
        expect(
            "the published campaign's report id_contrato (another id: a contract signed by "
            "another stack's send-contract on the shared topics)",
            published_report.get("id_contrato"),
            published_contract["id"],
        )
        expect(
            "the published campaign's report monto_total",
            published_report.get("monto_total"),
            300.5,
        )

        contract_report = wait_one(
            config,
            f"the contract report of contract {external_contract_id} "
            f"(unknown campaign {unknown_campaign_id})",
            reports_of(unknown_campaign_id),
        )
        expect(
            "the contract report's tipo_reporte", contract_report.get("tipo_reporte"), "contrato"
        )
        expect(
            "the contract report's nombre",
            contract_report.get("nombre"),
            f"Reporte de contrato: {external_contract_id}",
        )
        expect("the contract report's estado", contract_report.get("estado"), "activo")
        expect(
            "the contract report's id_contrato",
            contract_report.get("id_contrato"),
            external_contract_id,
        )
        expect("the contract report's monto_total", contract_report.get("monto_total"), 1234.5)
        expect("the contract report's moneda", contract_report.get("moneda"), "EUR")
        flows_done = time.monotonic() - started
        say(
            f"flows completed in {flows_done:.1f}s: influencer {influencer_id}, welcome campaign "
            f"{welcome_id}, its contract {welcome_contract['id']} and report "
            f"{welcome_report['id']} completado; published campaign's contract "
            f"{published_contract['id']} and report "
            f"{published_report['id']} completado; contract report {contract_report['id']}"
        )

        # d. Our events, read with the AvroSchema consumers.
        def fields(received, what, wanted):
            for field, value in wanted.items():
                expect(f"{what}: {field}", received.data.get(field), value)
            event_type = received.properties.get("event_type")
            tipo = received.data.get("tipo_evento")
            if event_type is not None and tipo is not None:
                expect(f"{what}: the event_type property", event_type, tipo)

        def report_event(report_id, tipo_evento, wanted):
            what = f"{tipo_evento} of report {report_id}"

            def matches(name, data):
                return (
                    name == "eventos-reportes"
                    and data.get("id_reporte") == report_id
                    and data.get("tipo_evento") == tipo_evento
                    and all(
                        data.get(field) == value
                        for field, value in wanted.items()
                        if field == "estado"
                    )
                )

            return Expected(
                what,
                {report_id},
                matches,
                lambda received: fields(received, what, {"tipo_evento": tipo_evento, **wanted}),
            )

        welcome_what = f"CampanaCreada of the welcome campaign {welcome_id}"
        published_what = f"the EventoCampanaCreada this script published ({campaign_id})"
        expectations = [
            Expected(
                welcome_what,
                {welcome_id},
                lambda name, data: (
                    name == "eventos-campanas" and data.get("campana_id") == welcome_id
                ),
                lambda received: fields(
                    received,
                    welcome_what,
                    {
                        "nombre": f"Campaña de bienvenida para {influencer_nombre}",
                        "influencer_id": influencer_id,
                        "influencer_nombre": influencer_nombre,
                        "influencer_email": influencer_email,
                        "tipo_comision": "cpa",
                        "valor_comision": 100.0,
                        "moneda": "USD",
                        "categorias_objetivo": ["moda", "viajes"],
                        "tipo_contrato": "puntual",
                    },
                ),
            ),
            Expected(
                published_what,
                {campaign_id},
                lambda name, data: (
                    name == "eventos-campanas" and data.get("campana_id") == campaign_id
                ),
                lambda received: fields(received, published_what, as_dict(campaign)),
            ),
        ]
        for report, contract_id, amount, currency in (
            (welcome_report, welcome_contract["id"], 100.0, "USD"),
            (published_report, published_contract["id"], 300.5, "EUR"),
        ):
            expectations.append(
                report_event(report["id"], "ReporteCreado", {"id_campana": report["id_campana"]})
            )
            expectations.append(
                report_event(
                    report["id"],
                    "ReporteActualizado",
                    {
                        "estado": "completado",
                        "tipo_reporte": "campana",
                        "id_campana": report["id_campana"],
                        "id_contrato": contract_id,
                        "monto_total": amount,
                        "moneda": currency,
                    },
                )
            )
        expectations.append(
            report_event(
                contract_report["id"],
                "ReporteCreado",
                {
                    "tipo_reporte": "contrato",
                    "estado": "activo",
                    "id_campana": unknown_campaign_id,
                    "id_contrato": external_contract_id,
                    "monto_total": 1234.5,
                    "moneda": "EUR",
                },
            )
        )
        counts = read_expected(config, consumers, expectations, decode_warnings)
        welcome_event = expectations[0].found
        published_event = expectations[1].found
        say(
            f"read and acknowledged {len(expectations)} events of ours with AvroSchema consumers "
            f"(CampanaCreada x2, ReporteCreado x3, ReporteActualizado x2) among {counts['read']} "
            f"messages ({counts['foreign']} of other producers, {counts['foreign_undecodable']} of "
            "them not decodable, skipped)"
        )
        if welcome_event.schema_version != published_event.schema_version:
            raise Failure(
                "eventos-campanas: our functions' CampanaCreada carries schema version "
                f"{welcome_event.schema_version!r}, the Python producer's "
                f"{published_event.schema_version!r}: the functions register another schema "
                "text than the official client, adding a schema version"
            )

        # Still exactly one welcome campaign now that every event was handled.
        campaigns, error = get_list(campaigns_url, run)
        if campaigns is None:
            raise Failure(f"the influencer's campaigns at the end: {error}")
        if len(campaigns) != 1:
            raise Failure(
                f"influencer {influencer_id} has {len(campaigns)} campaigns at the end, expected "
                f"exactly one welcome campaign: {json.dumps(campaigns, indent=1)}"
            )
        say(f"OK in {time.monotonic() - started:.1f}s")
    finally:
        close(client, consumers)


def close(client, consumers):
    """Unsubscribes (so the subscriptions retain nothing) and closes; bounded by the client's
    operation timeout. Problems are printed, not fatal."""
    for name, consumer in consumers.items():
        try:
            consumer.unsubscribe()
        except Exception as error:  # noqa: BLE001
            print(f"interop: warning: unsubscribe from {name}: {error}", file=sys.stderr)
        try:
            consumer.close()
        except Exception:  # noqa: BLE001 (already closed by the unsubscribe)
            pass
    try:
        client.close()
    except Exception as error:  # noqa: BLE001
        print(f"interop: warning: closing the Pulsar client: {error}", file=sys.stderr)


def main(argv):
    try:
        records, vectors = self_check()
        say(
            f"contract self-check: {records} records equal the .avsc schemas of {AVRO_DIR}, "
            f"{vectors} golden vectors of {VECTORS.name} reproduced byte for byte"
        )
        if "--self-check" in argv[1:]:
            return 0
        interop(Config())
        return 0
    except Failure as failure:
        print(f"interop: FAILED: {failure}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

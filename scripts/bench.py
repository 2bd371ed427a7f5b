#!/usr/bin/env python3
"""The benchmark suite (`make bench`): cold start and footprint, HTTP throughput and
latency, the same transaction driven by pgbench, the Pulsar bridge, the saga end to end,
scaling to two instances, and a CPU profile. Everything is measured on this machine over
loopback, with bounded loads; nothing is estimated.

    make bench                       # release build into target/bench, then this script
    CARGO_TARGET_DIR=target/bench scripts/bench.py

Needs the dev services (make services), `wrk` (installed with apt-get when missing and
running as root), `pgbench`/`psql` and, for the profile, `perf`. Writes docs/benchmarks.json
and docs/BENCHMARKS.md, logs to target/bench-logs/<run>/, and prints a short summary.

Settings (environment): BENCH_DURATION (seconds per load step, 10), BENCH_SAGAS (1000),
BENCH_SATURATION_SAGAS (1000), BENCH_SAGA_CONCURRENCY (4), BENCH_SATURATION_CONCURRENCY
(64), BENCH_BRIDGE_MESSAGES (10000), BENCH_STARTS (20), BENCH_PROFILE (1; 0 skips perf),
BENCH_PROFILE_BINARY (an unstripped register-influencer for symbol names; `make bench`
builds one into target/bench-profile), BENCH_SKIP (comma-separated steps to skip:
footprint,http,pgbench,hung,tracing,bridge,saga,scaling,profile), BENCH_BASELINE (another
build's release directory, e.g. main's: the footprint step measures its functions
alongside, starts alternating; `make bench BENCH_BASELINE=...`).

It uses its own databases (bench_alpes, bench_reportes, bench_pgbench; dropped at the end)
and its own Pulsar namespace (public/bench-<run>, PULSAR_NAMESPACE of every process it
starts; deleted with its topics at the end), so neither the dev databases nor the
contract's topics in public/default see its load, and e2e runs (in namespaces of their
own) are not disturbed.
"""

import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import uuid

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(SCRIPTS)
sys.path.insert(0, SCRIPTS)
import bench_report  # noqa: E402
import measure_binaries  # noqa: E402

TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target", "bench"))
if not os.path.isabs(TARGET):
    TARGET = os.path.join(ROOT, TARGET)
RELEASE = os.path.join(TARGET, "release")
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONCURRENCIES = [1, 16, 64]
SAGAS = int(os.environ.get("BENCH_SAGAS", "1000"))
SATURATION_SAGAS = int(os.environ.get("BENCH_SATURATION_SAGAS", "1000"))
SAGA_CONCURRENCY = int(os.environ.get("BENCH_SAGA_CONCURRENCY", "4"))
SATURATION_CONCURRENCY = int(os.environ.get("BENCH_SATURATION_CONCURRENCY", "64"))
BRIDGE_MESSAGES = int(os.environ.get("BENCH_BRIDGE_MESSAGES", "10000"))
BRIDGE_CONCURRENCIES = [16, 64]
STARTS = int(os.environ.get("BENCH_STARTS", "20"))
PROFILE = os.environ.get("BENCH_PROFILE", "1") != "0"
PROFILE_BINARY = os.environ.get("BENCH_PROFILE_BINARY", "")
# Another build's release directory (e.g. main's) whose functions the footprint step
# measures alongside, their starts alternating with this build's.
BASELINE = os.environ.get("BENCH_BASELINE", "")
SKIP = {step.strip() for step in os.environ.get("BENCH_SKIP", "").split(",") if step.strip()}

PG_HOST = "127.0.0.1"
PG_PORT = os.environ.get("PG_PORT", "5432")
PG_USER = os.environ.get("PG_USER", "alpes")
PG_PASSWORD = os.environ.get("PG_PASSWORD", "alpes")
PULSAR_URL = os.environ.get("PULSAR_URL", "pulsar://127.0.0.1:6650")
PULSAR_ADMIN_URL = os.environ.get("PULSAR_ADMIN_URL", "http://127.0.0.1:8080")
PUSH_TOKEN = "bench-push-token"

DB_FUNCTIONS = "bench_alpes"
DB_REPORTES = "bench_reportes"
DB_PGBENCH = "bench_pgbench"

FUNCTIONS = {
    "register-influencer": "alpes",
    "create-campaign": "alpes",
    "send-contract": "alpes",
    "generate-report": "reportes",
    "compensate-report": "reportes",
}
# The bridge's default table (docs/BRIDGE.md): topic, consuming function.
ROUTES = [
    ("eventos-crear-influencer", "register-influencer"),
    ("eventos-influencers", "create-campaign"),
    ("eventos-campanas", "generate-report"),
    ("eventos-campanas", "send-contract"),
    ("eventos-contratos", "generate-report"),
    ("eventos-contratos-error", "compensate-report"),
]

RUN = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
NAMESPACE = "public/bench-" + RUN.lower().replace("t", "").replace("-", "")
CONTRACT_TOPICS = ["eventos-crear-influencer", "eventos-influencers", "eventos-campanas", "eventos-contratos",
                   "eventos-contratos-error", "eventos-reportes"]
LOG_DIR = os.path.join(ROOT, "target", "bench-logs", RUN)
CHILDREN = []


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def loadavg():
    with open("/proc/loadavg") as file:
        return [float(value) for value in file.read().split()[:3]]


# ---------------------------------------------------------------------------------------
# Processes


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(port, path):
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        code = connection.getresponse().status
        connection.close()
        return code
    except OSError:
        return None


class Child:
    """A process of ours, logging to LOG_DIR/<name>.log, stopped with SIGTERM."""

    def __init__(self, name, argv, env, port=None, ready_path="/ready", timeout=60):
        self.name, self.port = name, port
        self.log_path = os.path.join(LOG_DIR, f"{name}.log")
        full_env = {"PATH": os.environ.get("PATH", ""), **env}
        if port is not None:
            full_env["PORT"] = str(port)
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(argv, env=full_env, stdout=log_file, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        CHILDREN.append(self)
        if port is not None:
            deadline = time.monotonic() + timeout
            while http_status(port, ready_path) != 200:
                if self.process.poll() is not None:
                    raise SystemExit(f"{name} exited with {self.process.returncode}; see {self.log_path}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name} was not ready on {ready_path} within {timeout} s; see {self.log_path}")
                time.sleep(0.05)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout=30):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self in CHILDREN:
            CHILDREN.remove(self)


def stop_all():
    for child in list(reversed(CHILDREN)):
        child.stop()


def run(argv, timeout, env=None, check=True):
    full_env = dict(os.environ)
    full_env.update(env or {})
    result = subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


# ---------------------------------------------------------------------------------------
# PostgreSQL


def database_url(database):
    return f"postgres://{PG_USER}:{PG_PASSWORD}@{PG_HOST}:{PG_PORT}/{database}"


def psql(database, sql, timeout=60):
    return run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", database_url(database), "-c", sql],
               timeout).stdout


def fresh_database(name):
    psql("alpes", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql("alpes", f"CREATE DATABASE {name}")
    run([os.path.join(RELEASE, "migrate")], 120, env={"DATABASE_URL": database_url(name)})


def drop_database(name):
    try:
        psql("alpes", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except (SystemExit, subprocess.TimeoutExpired) as error:
        log(f"could not drop {name}: {error}")


# ---------------------------------------------------------------------------------------
# CPU accounting: which processes used the cores during a step.

CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_ticks():
    """utime + stime of every process, by pid (with its name), and the machine's busy ticks."""
    per_process = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as file:
                data = file.read()
        except OSError:
            continue
        comm = data[data.index("(") + 1:data.rindex(")")]
        fields = data[data.rindex(")") + 2:].split()
        per_process[pid] = (comm, int(fields[11]) + int(fields[12]))
    with open("/proc/stat") as file:
        cpu = [int(value) for value in file.readline().split()[1:]]
    return per_process, sum(cpu) - cpu[3] - cpu[4]


class CpuSampler:
    """Samples /proc every 0.25 s from start to stop, so processes that start and end
    inside the step (pgbench's backends, wrk) are counted too (up to their last sample)."""

    def __init__(self):
        import threading
        self.first, self.last, self.started = {}, {}, time.monotonic()
        first, self.busy_first = read_ticks()
        self.first.update(first)
        self.last.update(first)
        self.busy_last = self.busy_first
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping.wait(0.25):
            self.sample()

    def sample(self):
        ticks, busy = read_ticks()
        for pid, (comm, value) in ticks.items():
            if pid not in self.first or self.first[pid][0] != comm:
                self.first[pid] = (comm, 0)  # started (or renamed by exec) since the first sample
            self.last[pid] = (comm, value)
        self.busy_last = busy

    def stop(self):
        """Cores used per process group, and by the whole machine."""
        self.stopping.set()
        self.thread.join()
        self.sample()
        elapsed = time.monotonic() - self.started
        groups = {}
        for pid, (comm, value) in self.last.items():
            base = self.first.get(pid, (comm, 0))
            delta = value - (base[1] if base[0] == comm else 0)
            if delta > 0:
                group = comm_group(comm)
                groups[group] = groups.get(group, 0) + delta
        cores = {group: round(ticks / CLK_TCK / elapsed, 2) for group, ticks in sorted(groups.items())}
        cores["machine"] = round((self.busy_last - self.busy_first) / CLK_TCK / elapsed, 2)
        return cores


def comm_group(comm):
    for name in list(FUNCTIONS) + ["pulsar-bridge", "local-gateway"]:
        if name.startswith(comm) or comm.startswith(name[:15]):
            return name
    if comm in ("postgres", "wrk", "pgbench", "java", "perf"):
        return comm
    if comm.startswith("throughput"):
        return "throughput example"
    if comm.startswith("saga"):
        return "saga client"
    return "other"


# ---------------------------------------------------------------------------------------
# Load generators


def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing wrk (apt-get)")
        run(["apt-get", "install", "-y", "wrk"], 600, env={"DEBIAN_FRONTEND": "noninteractive"})
        if shutil.which("wrk"):
            return
    raise SystemExit("wrk is missing: apt-get install wrk")


def wrk(url, script, connections, duration, extra_env=None):
    """One wrk run; returns its figures (latencies in ms) and the CPU used."""
    threads = max(1, min(connections, 2))
    with tempfile.NamedTemporaryFile(prefix="wrk-", suffix=".json", delete=False) as out:
        out_path = out.name
    env = {"WRK_JSON": out_path, "WRK_LUA_DIR": os.path.join(SCRIPTS, "bench"),
           "WRK_RUN": uuid.uuid4().hex[:10], **(extra_env or {})}
    sampler = CpuSampler()
    result = run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "10s",
                  "-s", os.path.join(SCRIPTS, "bench", script), url], duration + 60, env=env)
    cpu = sampler.stop()
    with open(out_path) as file:
        raw = json.load(file)
    os.unlink(out_path)
    seconds = raw["duration_us"] / 1e6
    errors = raw["errors"]
    return {
        "connections": connections,
        "threads": threads,
        "seconds": round(seconds, 2),
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1),
        "latency_ms": {key: round(value / 1000, 2) for key, value in raw["latency_us"].items()},
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "cpu_cores": cpu,
        "load_after": loadavg(),
        "wrk_output_tail": result.stdout.strip().splitlines()[-3:],
    }


def pgbench(script_path, clients, duration):
    threads = max(1, min(clients, 2))
    log_dir = tempfile.mkdtemp(prefix="pgbench-")
    env = {"PGHOST": PG_HOST, "PGPORT": PG_PORT, "PGUSER": PG_USER, "PGPASSWORD": PG_PASSWORD}
    sampler = CpuSampler()
    result = run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(threads), "-T", str(duration),
                  "-f", script_path, "-l", "--log-prefix", os.path.join(log_dir, "tx"), DB_PGBENCH],
                 duration + 120, env=env)
    cpu = sampler.stop()
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
    latencies = []
    for name in os.listdir(log_dir):
        with open(os.path.join(log_dir, name)) as file:
            for line in file:
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]) / 1000)
    shutil.rmtree(log_dir, ignore_errors=True)
    latencies.sort()
    return {
        "clients": clients,
        "threads": threads,
        "tps": round(tps, 1),
        "transactions": len(latencies),
        "failed": int(failed.group(1)) if failed else 0,
        "latency_ms": {"p50": round(percentile(latencies, 0.5), 2), "p99": round(percentile(latencies, 0.99), 2),
                       "p999": round(percentile(latencies, 0.999), 2)},
        "cpu_cores": cpu,
        "load_after": loadavg(),
    }


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, round((len(sorted_values) - 1) * fraction))]


# ---------------------------------------------------------------------------------------
# Pulsar admin


def admin(method, path, timeout=30):
    """An admin API call (`path` after /admin/v2/); its HTTP status."""
    request = urllib.request.Request(f"{PULSAR_ADMIN_URL}/admin/v2/{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def admin_json(path, timeout=30):
    try:
        with urllib.request.urlopen(f"{PULSAR_ADMIN_URL}/admin/v2/{path}", timeout=timeout) as response:
            return json.load(response)
    except (urllib.error.HTTPError, OSError, ValueError):
        return None


def create_namespace():
    """The run's namespace and the contract's topics in it."""
    for path in [f"namespaces/{NAMESPACE}"] + [f"persistent/{NAMESPACE}/{topic}" for topic in CONTRACT_TOPICS]:
        status = admin("PUT", path)
        if status not in (200, 204, 409):
            raise SystemExit(f"PUT /admin/v2/{path}: HTTP {status} (is Pulsar running? make services)")


def delete_namespace(namespace):
    """Deletes `namespace` and its topics (best effort)."""
    for topic in admin_json(f"namespaces/{namespace}/topics") or []:
        if topic.startswith("persistent://"):
            admin("DELETE", f"persistent/{topic[len('persistent://'):]}?force=true")
    return admin("DELETE", f"namespaces/{namespace}") in (200, 204, 404)


def delete_stale_namespaces():
    """Namespaces of earlier runs killed before their cleanup."""
    for namespace in admin_json("namespaces/public") or []:
        if namespace.startswith("public/bench-") and namespace != NAMESPACE:
            if delete_namespace(namespace):
                log(f"deleted {namespace}, left by an earlier run")


# ---------------------------------------------------------------------------------------
# Functions


def function_env(database, **extra):
    env = {
        "DATABASE_URL": database_url(database),
        "PULSAR_URL": PULSAR_URL,
        "PULSAR_NAMESPACE": NAMESPACE,
        "PUSH_AUTH": "static",
        "PUSH_TOKEN": PUSH_TOKEN,
        "RUST_LOG": os.environ.get("BENCH_RUST_LOG", "info"),
    }
    env.update(extra)
    return env


def start_function(name, database, instance="", binary=None, **extra):
    return Child(f"{name}{instance}", [binary or os.path.join(RELEASE, name)], function_env(database, **extra),
                 port=free_port())


def start_gateway(upstreams):
    routes = ";".join(f"{path}={','.join(urls)}" for path, urls in upstreams.items())
    port = free_port()
    return Child("local-gateway", [os.path.join(RELEASE, "local-gateway")],
                 {"GATEWAY_ROUTES": routes, "GATEWAY_PORT": str(port), "RUST_LOG": "warn"}, port=port,
                 ready_path="/health")


# ---------------------------------------------------------------------------------------
# Steps


def step_footprint(results):
    fresh_database(DB_FUNCTIONS)
    fresh_database(DB_REPORTES)
    databases = {"alpes": DB_FUNCTIONS, "reportes": DB_REPORTES}
    extra_env = {"PULSAR_NAMESPACE": NAMESPACE}
    builds = {"this": RELEASE}
    if BASELINE:
        builds["baseline"] = BASELINE
    log(f"footprint: {len(measure_binaries.FUNCTIONS)} functions x {STARTS} cold starts of each kind"
        + (f", side by side with {BASELINE}" if BASELINE else ""))
    measured = measure_binaries.measure_builds(builds, STARTS, databases, extra_env)
    results["footprint"] = measured["this"]
    if BASELINE:
        results["footprint_baseline"] = {"release_dir": os.path.relpath(BASELINE, ROOT), "functions": measured["baseline"]}
    else:
        results.pop("footprint_baseline", None)


def step_http(results):
    fresh_database(DB_FUNCTIONS)
    function = start_function("register-influencer", DB_FUNCTIONS)
    url = function.url
    log(f"HTTP: register-influencer on {url}, warm-up 3 s")
    wrk(url, "post.lua", 16, 3)
    post = []
    for connections in CONCURRENCIES:
        log(f"HTTP: POST /influencers, {connections} connections, {DURATION} s")
        post.append(wrk(url, "post.lua", connections, DURATION))
    ids_path = os.path.join(LOG_DIR, "influencer-ids.txt")
    with open(ids_path, "w") as file:
        file.write(psql(DB_FUNCTIONS, "SELECT id FROM alpes.influencers ORDER BY random() LIMIT 10000"))
    get = []
    for connections in CONCURRENCIES:
        log(f"HTTP: GET /influencers/{{id}}, {connections} connections, {DURATION} s")
        get.append(wrk(url, "get.lua", connections, DURATION, {"WRK_IDS": ids_path}))
    function.stop()
    # What the inline publish costs a closed-loop client: the same POSTs answered right
    # after the commit (the publish goes on in the background), at 16 and 64 connections.
    at_commit = start_function("register-influencer", DB_FUNCTIONS, instance="-at-commit",
                               PUBLISH_INLINE_BUDGET_MS="1")
    post_at_commit = []
    for connections in CONCURRENCIES[1:]:
        log(f"HTTP: POST /influencers answered at commit (PUBLISH_INLINE_BUDGET_MS=1), {connections} connections, {DURATION} s")
        post_at_commit.append(wrk(at_commit.url, "post.lua", connections, DURATION))
    at_commit.stop()
    results["http"] = {
        "post": post,
        "post_at_commit": post_at_commit,
        "get": get,
        "rows_after": int(psql(DB_FUNCTIONS, "SELECT count(*) FROM alpes.influencers")),
        "settings": "DATABASE_MAX_CONNECTIONS 10 (default), RUST_LOG " + function_env("x")["RUST_LOG"],
    }


def step_tracing(results):
    """POST /influencers with spans exported to Jaeger, made but not exported, and the
    OpenTelemetry layer off (OTEL_SDK_DISABLED=true), side by side: the same binary, three
    instances, rounds alternating at 16 connections."""
    binary = run([os.path.join(SCRIPTS, "jaeger.sh"), "build"], 1800).stdout.strip()
    ui, otlp = free_port(), free_port()
    jaeger = Child("jaeger", [binary, "--config", os.path.join(SCRIPTS, "jaeger.yaml")],
                   {"JAEGER_UI_PORT": str(ui), "JAEGER_OTLP_PORT": str(otlp),
                    "JAEGER_QUERY_GRPC_PORT": str(free_port()), "JAEGER_HEALTH_PORT": str(free_port())},
                   port=ui, ready_path="/api/services")
    fresh_database(DB_FUNCTIONS)
    instances = {
        "exported": start_function("register-influencer", DB_FUNCTIONS, instance="-exported",
                                   OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp}"),
        "not_exported": start_function("register-influencer", DB_FUNCTIONS, instance="-not-exported"),
        "disabled": start_function("register-influencer", DB_FUNCTIONS, instance="-otel-disabled",
                                   OTEL_SDK_DISABLED="true"),
    }
    for child in instances.values():
        wrk(child.url, "post.lua", 16, 3)
    rounds = {key: [] for key in instances}
    for round_number in range(2):
        for key, child in instances.items():
            log(f"tracing: POST /influencers, spans {key.replace('_', ' ')}, round {round_number + 1}, 16 connections, {DURATION} s")
            rounds[key].append(wrk(child.url, "post.lua", 16, DURATION))
    for child in instances.values():
        child.stop()
    spans = 0
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui}/api/traces?service=register-influencer&limit=20",
                                    timeout=30) as answer:
            spans = sum(len(trace.get("spans", [])) for trace in json.load(answer).get("data") or [])
    except OSError as error:
        log(f"tracing: Jaeger's query API: {error}")
    jaeger.stop()

    def rps(key):
        return sum(run_["rps"] for run_ in rounds[key]) / len(rounds[key])

    results["tracing"] = {
        "rounds": rounds,
        "rps": {key: round(rps(key), 1) for key in rounds},
        "ratio": round(rps("exported") / rps("disabled"), 3) if rps("disabled") else None,
        "spans_seen_in_jaeger": spans,
    }


def broker_pid():
    state = os.environ.get("ALPES_STATE_DIR", os.path.join(ROOT, ".local"))
    with open(os.path.join(state, "pulsar.pid")) as file:
        return int(file.read().strip())


def ready_status(port):
    """GET /ready with a timeout above its own 2 s dependency checks."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/ready")
        status = connection.getresponse().status
        connection.close()
        return status
    except OSError:
        return None


def step_hung(results):
    """POST /influencers while the broker's JVM is frozen (SIGSTOP): it accepts connections
    and answers nothing. Writes must keep answering 201 (the events wait in the outbox)."""
    fresh_database(DB_FUNCTIONS)
    function = start_function("register-influencer", DB_FUNCTIONS)
    url = function.url
    wrk(url, "post.lua", 16, 3)
    pid = broker_pid()
    frozen = int(os.environ.get("BENCH_HUNG_SECONDS", "20"))
    log(f"hung broker: SIGSTOP pid {pid}, POST /influencers, 16 connections, {frozen} s")
    os.kill(pid, signal.SIGSTOP)
    try:
        during = wrk(url, "post.lua", 16, frozen)
        ready = ready_status(function.port)
    finally:
        os.kill(pid, signal.SIGCONT)
    log("hung broker: SIGCONT; waiting for the outbox to drain")
    drained_in = None
    began = time.monotonic()
    while time.monotonic() - began < 300:
        if psql(DB_FUNCTIONS, "SELECT count(*) FROM alpes.outbox WHERE published_at IS NULL").strip() == "0":
            drained_in = round(time.monotonic() - began, 1)
            break
        time.sleep(0.5)
    function.stop()
    results["hung_broker"] = {
        "frozen_s": frozen,
        "post": during,
        "ready_status_while_frozen": ready,
        "outbox_drained_after_s": drained_in,
        "rows": int(psql(DB_FUNCTIONS, "SELECT count(*) FROM alpes.influencers").strip()),
    }


def step_pgbench(results):
    fresh_database(DB_PGBENCH)
    register = os.path.join(SCRIPTS, "bench", "pg_register.sql")
    full = os.path.join(LOG_DIR, "pg_full.sql")
    with open(full, "w") as out:
        for part in ("pg_register.sql", "pg_publish.sql"):
            with open(os.path.join(SCRIPTS, "bench", part)) as file:
                out.write(file.read())
    figures = {"register": [], "register_and_publish": []}
    for clients in CONCURRENCIES:
        log(f"pgbench: insert + outbox, {clients} clients, {DURATION} s")
        figures["register"].append(pgbench(register, clients, DURATION))
        log(f"pgbench: insert + outbox, then claim + mark published, {clients} clients, {DURATION} s")
        figures["register_and_publish"].append(pgbench(full, clients, DURATION))
    results["pgbench"] = figures


def step_bridge(results):
    binary = os.path.join(RELEASE, "examples", "throughput")
    runs = []
    for concurrency in BRIDGE_CONCURRENCIES:
        log(f"bridge: {BRIDGE_MESSAGES} messages, concurrency {concurrency}")
        sampler = CpuSampler()
        output = run([binary, str(BRIDGE_MESSAGES), str(concurrency), "300"], 330,
                     env={"PULSAR_URL": PULSAR_URL, "PULSAR_ADMIN_URL": PULSAR_ADMIN_URL, "RUST_LOG": "warn"}).stdout
        cpu = sampler.stop()
        numbers = lambda pattern: [float(value) for value in re.search(pattern, output).groups()]  # noqa: E731
        rate = numbers(r"= ([\d.]+) messages/s")[0]
        bridge_p50, bridge_p99 = numbers(r"\(bridge\):\s+p50 ([\d.]+) ms\s+p99 ([\d.]+) ms")
        direct_p50, direct_p99 = numbers(r"\(direct\): p50 ([\d.]+) ms\s+p99 ([\d.]+) ms")
        added_p50, added_p99 = numbers(r"added by the bridge:\s+p50 ([+-][\d.]+) ms\s+p99 ([+-][\d.]+) ms")
        runs.append({
            "messages": BRIDGE_MESSAGES,
            "concurrency": concurrency,
            "messages_per_s": rate,
            "publish_to_push_ms": {"p50": bridge_p50, "p99": bridge_p99},
            "publish_to_consumer_ms": {"p50": direct_p50, "p99": direct_p99},
            "added_ms": {"p50": added_p50, "p99": added_p99},
            "cpu_cores": cpu,
            "load_after": loadavg(),
        })
    results["bridge"] = runs


def start_with_local_sh(children):
    """The topology through scripts/local.sh (`make local`) on free ports and the bench
    databases; returns the gateway's URL."""
    ports = {name: free_port() for name in ("REGISTER_INFLUENCER_PORT", "CREATE_CAMPAIGN_PORT", "SEND_CONTRACT_PORT",
                                            "GENERATE_REPORT_PORT", "COMPENSATE_REPORT_PORT", "BRIDGE_PORT",
                                            "GATEWAY_PORT")}
    env = {"BIN_DIR": RELEASE, "DATABASE_URL": database_url(DB_FUNCTIONS),
           "REPORTES_DATABASE_URL": database_url(DB_REPORTES), "PULSAR_URL": PULSAR_URL,
           "PULSAR_ADMIN_URL": PULSAR_ADMIN_URL, "PULSAR_NAMESPACE": NAMESPACE, "READY_TIMEOUT": "60",
           "RUST_LOG": "info",
           "HOME": os.environ.get("HOME", "/root"), **{key: str(value) for key, value in ports.items()}}
    local = Child("local.sh", [os.path.join(SCRIPTS, "local.sh")], env)
    children.append(local)
    deadline = time.monotonic() + 120
    wanted = [ports[key] for key in ports if key != "GATEWAY_PORT"]
    while not (all(http_status(port, "/ready") == 200 for port in wanted)
               and http_status(ports["GATEWAY_PORT"], "/health") == 200):
        if local.process.poll() is not None:
            raise SystemExit(f"scripts/local.sh exited with {local.process.returncode}; see {local.log_path}")
        if time.monotonic() > deadline:
            raise SystemExit(f"scripts/local.sh: the topology was not ready within 120 s; see {local.log_path}")
        time.sleep(0.2)
    return f"http://127.0.0.1:{ports['GATEWAY_PORT']}"


def start_own_topology(children):
    """The same topology started here, on fresh subscriptions of its own."""
    suffix = RUN.replace("T", "").replace("-", "")[-12:]
    subscriptions = [(topic, f"{function}-bench-{suffix}") for topic, function in ROUTES]
    urls = {}
    for name, context in FUNCTIONS.items():
        child = start_function(name, DB_FUNCTIONS if context == "alpes" else DB_REPORTES)
        children.append(child)
        urls[name] = child.url
    for topic, subscription in subscriptions:
        status = admin("PUT", f"persistent/{NAMESPACE}/{topic}/subscription/{subscription}")
        if status not in (200, 204, 409):
            raise SystemExit(f"cannot create the subscription {subscription} on {topic}: HTTP {status}")
    routes = [{"topic": topic, "subscription": subscription, "url": f"{urls[function]}/events"}
              for (topic, function), (_, subscription) in zip(ROUTES, subscriptions)]
    children.append(Child("pulsar-bridge", [os.path.join(RELEASE, "pulsar-bridge")],
                          {"PULSAR_URL": PULSAR_URL, "PULSAR_NAMESPACE": NAMESPACE, "PUSH_AUTH": "static",
                           "PUSH_TOKEN": PUSH_TOKEN, "BRIDGE_ROUTES": json.dumps(routes), "RUST_LOG": "warn"},
                          port=free_port()))
    gateway = start_gateway({"/influencers": [urls["register-influencer"]]})
    children.append(gateway)
    return gateway.url


def step_saga(results):
    fresh_database(DB_FUNCTIONS)
    fresh_database(DB_REPORTES)
    children = []
    local_sh = os.path.join(SCRIPTS, "local.sh")
    try:
        if os.path.exists(local_sh) and os.environ.get("BENCH_OWN_LAUNCHER") != "1":
            launcher = "scripts/local.sh (make local)"
            entry = start_with_local_sh(children)
        else:
            launcher = "bench.py's own launcher"
            entry = start_own_topology(children)
        log(f"saga: topology up through {launcher}, gateway {entry}")
        saga = os.path.join(RELEASE, "examples", "saga")
        figures = {"entry": "local-gateway", "launcher": launcher}
        for label, sagas, concurrency in (("latency", SAGAS, SAGA_CONCURRENCY),
                                          ("saturation", SATURATION_SAGAS, SATURATION_CONCURRENCY)):
            log(f"saga: {sagas} sagas, at most {concurrency} in flight ({label})")
            sampler = CpuSampler()
            output = run([saga, entry, str(sagas), str(concurrency), "20"], 330,
                         env={"PULSAR_URL": PULSAR_URL, "PULSAR_NAMESPACE": NAMESPACE}).stdout
            cpu = sampler.stop()
            with open(os.path.join(LOG_DIR, f"saga-{label}.txt"), "w") as file:
                file.write(output)
            figure = json.loads(output.strip().splitlines()[-1])
            figure["cpu_cores"] = cpu
            figure["load_after"] = loadavg()
            figures[label] = figure
        results["saga"] = figures
    finally:
        for child in reversed(children):
            child.stop()


def step_scaling(results):
    gateway_binary = os.path.join(RELEASE, "local-gateway")
    if not os.path.exists(gateway_binary):
        results["scaling"] = {"skipped": f"{gateway_binary} is not built"}
        return
    fresh_database(DB_FUNCTIONS)
    first = start_function("register-influencer", DB_FUNCTIONS, instance="-1")
    second = start_function("register-influencer", DB_FUNCTIONS, instance="-2")
    figures = {}
    try:
        for instances, upstreams in ((1, [first.url]), (2, [first.url, second.url])):
            gateway = start_gateway({"/influencers": upstreams})
            wrk(gateway.url, "post.lua", 16, 2)
            runs = []
            for connections in (16, 64):
                log(f"scaling: POST via the gateway, {instances} instance(s), {connections} connections")
                runs.append(wrk(gateway.url, "post.lua", connections, DURATION))
            gateway.stop()
            figures[str(instances)] = runs
    finally:
        second.stop()
        first.stop()
    results["scaling"] = {"post_via_gateway": figures}


def step_profile(results):
    if not shutil.which("perf"):
        results["profile"] = {"skipped": "perf is not installed"}
        return
    binary = PROFILE_BINARY or os.path.join(RELEASE, "register-influencer")
    fresh_database(DB_FUNCTIONS)
    function = start_function("register-influencer", DB_FUNCTIONS, binary=binary)
    pid = function.process.pid
    data = os.path.join(LOG_DIR, "perf.data")
    try:
        wrk(function.url, "post.lua", 64, 2)
        log(f"profile: perf record -a -g for {DURATION} s under POST load at 64 connections ({binary})")
        recorder = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "499", "-o", data, "--", "sleep",
                                     str(DURATION + 1)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        load = wrk(function.url, "post.lua", 64, DURATION)
        recorder.wait(timeout=60)
        threads = ",".join(sorted(os.listdir(f"/proc/{pid}/task")))
    finally:
        function.stop()

    def report(*arguments):
        output = run(["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "0.3",
                      *arguments], 300, check=False).stdout
        rows = []
        for line in output.splitlines():
            match = re.match(r"\s*([\d.]+)%\s+(.*\S)", line)
            if match:
                rows.append([float(match.group(1)), re.sub(r"\s{2,}", "  ", match.group(2))])
        return rows

    by_process = report("-g", "none", "--sort", "comm,dso")
    ours = report("-g", "none", "--tid", threads, "--percentage", "relative", "--sort", "dso,sym")
    results["profile"] = {
        "binary": os.path.relpath(binary, ROOT),
        "symbols": bool(PROFILE_BINARY),
        "load": {"rps": load["rps"], "p99_ms": load["latency_ms"]["p99"]},
        "by_process": by_process[:12],
        "register_influencer_top": ours[:25],
    }


# ---------------------------------------------------------------------------------------
# Report


def machine():
    model = ""
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as file:
        memory_kib = int(file.readline().split()[1])
    commit = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], 10, check=False).stdout.strip()
    # The binaries may be older than HEAD (other work committed since the build).
    built = os.path.getmtime(os.path.join(RELEASE, "register-influencer"))
    built_iso = datetime.datetime.fromtimestamp(built, datetime.timezone.utc).isoformat(timespec="seconds")
    built_commit = run(["git", "-C", ROOT, "rev-list", "-1", "--abbrev-commit", f"--before={int(built)}", "HEAD"], 10,
                       check=False).stdout.strip()
    rustc = run(["rustc", "--version"], 10, check=False).stdout.strip()
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as file:
        profile = tomllib.load(file).get("profile", {}).get("release", {})
    postgres = psql("alpes", "SHOW server_version").strip()
    settings = psql("alpes", "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings "
                              "WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')")
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "commit": commit,
        "binaries_built": built_iso,
        "binaries_commit": built_commit,
        "rustc": rustc,
        "release_profile": ", ".join(f"{key} {value}" for key, value in profile.items()),
        "postgres": postgres + " (" + settings.strip() + ")",
        "pulsar": "Apache Pulsar 4.0.7 standalone (scripts/pulsar.sh)",
        "wrk": (run(["wrk", "-v"], 10, check=False).stdout.splitlines() or [""])[0].strip(),
    }


def main():
    os.makedirs(LOG_DIR, exist_ok=True)
    needed = list(FUNCTIONS) + ["migrate"]
    if "bridge" not in SKIP:
        needed.append("examples/throughput")
    if "saga" not in SKIP:
        needed += ["pulsar-bridge", "local-gateway", "examples/saga"]
    for binary in needed:
        if not os.path.exists(os.path.join(RELEASE, binary)):
            raise SystemExit(f"{os.path.join(RELEASE, binary)} is missing: run make bench (it builds them)")
    ensure_wrk()
    for endpoint in (f"{PULSAR_ADMIN_URL}/admin/v2/clusters",):
        try:
            urllib.request.urlopen(endpoint, timeout=5).close()
        except OSError as error:
            raise SystemExit(f"Pulsar is not answering at {endpoint} ({error}): make services")

    started = time.monotonic()
    results = {
        "run": RUN,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_before": loadavg(),
        "settings": {"duration_s": DURATION, "concurrencies": CONCURRENCIES, "starts": STARTS},
    }
    log(f"run {RUN} (namespace {NAMESPACE}): {results['machine']['cores']} cores, {results['machine']['memory_gib']} GiB, "
        f"load {results['load_before']}; logs in {os.path.relpath(LOG_DIR, ROOT)}")
    steps = [("footprint", step_footprint), ("http", step_http), ("pgbench", step_pgbench), ("hung", step_hung),
             ("tracing", step_tracing), ("bridge", step_bridge),
             ("saga", step_saga), ("scaling", step_scaling), ("profile", step_profile)]
    timings = {}
    delete_stale_namespaces()
    create_namespace()
    try:
        for name, step in steps:
            if name in SKIP or (name == "profile" and not PROFILE):
                continue
            began = time.monotonic()
            try:
                step(results)
            finally:
                stop_all()
            timings[name] = round(time.monotonic() - began, 1)
    finally:
        stop_all()
        for database in (DB_FUNCTIONS, DB_REPORTES, DB_PGBENCH):
            drop_database(database)
        if not delete_namespace(NAMESPACE):
            log(f"could not delete the namespace {NAMESPACE}")
    results["step_seconds"] = timings
    results["total_seconds"] = round(time.monotonic() - started, 1)
    results["load_after"] = loadavg()

    previous = {}
    json_path = os.path.join(ROOT, "docs", "benchmarks.json")
    if os.path.exists(json_path):
        with open(json_path) as file:
            previous = json.load(file)
    for key in ("footprint", "http", "pgbench", "tracing", "bridge", "saga", "scaling", "profile"):
        if key not in results and key in previous:
            results[key] = previous[key]
            results.setdefault("carried_over", []).append(key)
    with open(json_path, "w") as file:
        json.dump(results, file, indent=2)
        file.write("\n")
    with open(os.path.join(ROOT, "docs", "BENCHMARKS.md"), "w") as file:
        file.write(bench_report.markdown(results))
    print()
    print(bench_report.summary(results))
    log(f"done in {results['total_seconds']} s: docs/BENCHMARKS.md, docs/benchmarks.json")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        stop_all()
        sys.exit(130)

#!/usr/bin/env python3
"""Cold start and footprint of each function's release binary (SPEC section 11): per
function, over `MEASURE_STARTS` (20) starts of each kind, median and max of

- exec to the first 200 on `GET /health` (the socket listens; no I/O behind it),
- exec to the first 200 on `GET /ready` (same start, polled right after: the database
  and broker connections opened),
- exec to the first successful write (`POST`, 201) in a start of its own, where the
  write is the first request after the socket listens (functions whose writes all come
  as events are marked so),
- RSS after 20 `/ready` calls and 0.3 s without requests (every start of the first
  kind), and the thread count then; plus one reading after 3 s idle,

and the stripped binary's size.

    make measure          (builds the release binaries first)

`MEASURE_FUNCTIONS=register-influencer,...` measures only those. `MEASURE_BASELINE=<dir>`
measures the binaries in another release directory (another build, e.g. of main) side by
side in the same run: the two builds' starts alternate,
each sample starting either first in turn, so a noisy machine weighs on both alike.

Needs the dev services (make services) and migrated databases (make migrate). Writes a
Markdown table to stdout and JSON to target/measurements.json. Loopback only; every wait
is bounded. `scripts/bench.py` (make bench) calls `measure` for its footprint table (on
its own databases and Pulsar namespace).

No image is built here (no container engine). `image_own_bytes` is only what the
Dockerfile's final stage adds on top of its base (gcr.io/distroless/cc-debian12:nonroot,
which carries the C runtime and the CA certificates): the binary, its one COPY. The base's
size is not measurable here and is not included; `ca_bundle_bytes` is this machine's CA
bundle, for reference (the image takes distroless's own).
"""

import http.client
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid

FUNCTIONS = {
    "register-influencer": "alpes",
    "create-campaign": "alpes",
    "send-contract": "alpes",
    "generate-report": "reportes",
    "compensate-report": "reportes",
}
# MEASURE_FUNCTIONS=a,b measures only those.
if os.environ.get("MEASURE_FUNCTIONS"):
    FUNCTIONS = {name: FUNCTIONS[name] for name in os.environ["MEASURE_FUNCTIONS"].split(",")}
STARTS = int(os.environ.get("MEASURE_STARTS", "20"))
PG_PORT = os.environ.get("PG_PORT", "5432")
PULSAR_URL = os.environ.get("PULSAR_URL", "pulsar://127.0.0.1:6650")
TARGET = os.environ.get("CARGO_TARGET_DIR", "target")
CA_CERTIFICATES = "/etc/ssl/certs/ca-certificates.crt"
DISTROLESS_BASE = "gcr.io/distroless/cc-debian12:nonroot"
START_TIMEOUT = 20
RUN = uuid.uuid4().hex[:8]
COUNTER = itertools.count()


def influencer():
    n = next(COUNTER)
    return {"nombre": f"Measure {n}", "email": f"m-{RUN}-{n}@measure.example.com",
            "categorias": ["moda"], "plataformas": ["instagram"]}


def campaign():
    return {"nombre": f"Measure {next(COUNTER)}", "descripcion": "cold start", "tipo_comision": "cpa",
            "valor_comision": 150.5, "moneda": "EUR", "categorias_objetivo": ["moda"],
            "fecha_inicio": "2026-03-01T00:00:00Z", "tipo_contrato": "temporal", "monto_base": 1200}


def contract():
    return {"id_influencer": str(uuid.uuid4()), "id_campana": str(uuid.uuid4()), "monto_total": 1500.5,
            "moneda": "cop", "tipo_contrato": "temporal", "fecha_inicio": "2025-10-01T00:00:00Z",
            "fecha_fin": "2025-11-01T00:00:00Z", "entregables": "4 historias"}


# The first write of each function that has an HTTP one (path, body maker). The others
# write on events only (generate-report) or on an existing report (compensate-report).
WRITES = {
    "register-influencer": ("/influencers", influencer),
    "create-campaign": ("/campanas", campaign),
    "send-contract": ("/contratos", contract),
}
NO_WRITE = {
    "generate-report": "writes on events only (push endpoint)",
    "compensate-report": "its one HTTP write compensates an existing report; otherwise events only",
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port, method, path, body=None):
    """The status, or None when nothing answers yet."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        headers = {"content-type": "application/json"} if body is not None else {}
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status
    except OSError:
        return None


def status(port, path):
    return request(port, "GET", path)


def spawn(binary, database, port, extra_env):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": str(port),
        "DATABASE_URL": f"postgres://alpes:alpes@127.0.0.1:{PG_PORT}/{database}",
        "PULSAR_URL": PULSAR_URL,
        "PUSH_AUTH": "static",
        "PUSH_TOKEN": "measure",
        "RUST_LOG": "warn",
    }
    env.update(extra_env or {})
    return subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def until(began, process, attempt):
    """Polls `attempt` every ms; milliseconds from `began` to its first success."""
    deadline = began + START_TIMEOUT
    while time.perf_counter() < deadline:
        if attempt():
            return (time.perf_counter() - began) * 1000
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited with {process.returncode}")
        time.sleep(0.001)
    process.kill()
    raise SystemExit(f"{process.args[0]} did not answer within {START_TIMEOUT} s")


def start(binary, database, extra_env=None):
    """Starts `binary`; returns it once `/ready` answers 200 (kept for older callers)."""
    port = free_port()
    began = time.perf_counter()
    process = spawn(binary, database, port, extra_env)
    millis = until(began, process, lambda: status(port, "/ready") == 200)
    return process, port, millis


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as status_file:
        for line in status_file:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kib(pid):
    return proc_status(pid, "VmRSS")


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def probe_start(binary, database, extra_env, idle=0.3):
    """One start: exec -> /health, then -> /ready; RSS and threads after 20 /ready calls."""
    port = free_port()
    began = time.perf_counter()
    process = spawn(binary, database, port, extra_env)
    try:
        health = until(began, process, lambda: status(port, "/health") == 200)
        ready = until(began, process, lambda: status(port, "/ready") == 200)
        for _ in range(20):
            status(port, "/ready")
        time.sleep(idle)
        pid = process.pid
        memory = {field: proc_status(pid, field) for field in ("VmRSS", "RssAnon", "RssFile")}
        return health, ready, memory, proc_status(pid, "Threads")
    finally:
        stop(process)


def write_start(binary, database, extra_env, path, body):
    """One start whose first request is a write: exec -> the first 201."""
    port = free_port()
    began = time.perf_counter()
    process = spawn(binary, database, port, extra_env)
    try:
        answered = {}

        def attempt():
            code = request(port, "POST", path, body())
            if code is not None and code != 201:
                answered[code] = answered.get(code, 0) + 1
                if code < 500:
                    raise SystemExit(f"{process.args[0]}: POST {path} answered {code}")
            return code == 201

        return until(began, process, attempt)
    finally:
        stop(process)


def summary(values):
    """Median and max, and every sample in the order taken (an outlier's place in the run
    tells a one-off stall from a trend)."""
    return {"median": round(statistics.median(values), 1), "max": round(max(values), 1),
            "samples": [round(value, 1) for value in values]}


def measure_builds(builds, starts=STARTS, databases=None, extra_env=None):
    """`builds`: {label: release directory}. Per label and function, the figures above.
    The builds' starts alternate (who goes first turns each sample)."""
    certificates = os.path.getsize(CA_CERTIFICATES) if os.path.exists(CA_CERTIFICATES) else 0
    databases = databases or {}
    results = {label: {} for label in builds}
    for name, context in FUNCTIONS.items():
        database = databases.get(context, context)
        binaries = {label: os.path.join(directory, name) for label, directory in builds.items()}
        first = next(iter(builds))
        if not os.path.exists(binaries[first]):
            raise SystemExit(f"{binaries[first]} is missing: build with cargo build --release --bins")
        # A baseline may hold only some of the functions: those are compared.
        labels = [label for label in builds if os.path.exists(binaries[label])]
        samples = {label: {"health": [], "ready": [], "rss": [], "anon": [], "file": [], "threads": [], "write": []}
                   for label in labels}
        for i in range(starts):
            order = labels[i % len(labels):] + labels[:i % len(labels)]
            for label in order:
                health, ready, memory, threads = probe_start(binaries[label], database, extra_env)
                figures = samples[label]
                figures["health"].append(health)
                figures["ready"].append(ready)
                figures["rss"].append(memory["VmRSS"])
                figures["anon"].append(memory["RssAnon"])
                figures["file"].append(memory["RssFile"])
                figures["threads"].append(threads)
            if name in WRITES:
                for label in order:
                    path, body = WRITES[name]
                    samples[label]["write"].append(write_start(binaries[label], database, extra_env, path, body))
        for label in labels:
            _, _, idle, _ = probe_start(binaries[label], database, extra_env, idle=3)
            idle = idle["VmRSS"]
            figures = samples[label]
            size = os.path.getsize(binaries[label])
            results[label][name] = {
                "binary_bytes": size,
                "health_ms": summary(figures["health"]),
                "ready_ms": summary(figures["ready"]),
                "first_write_ms": summary(figures["write"]) if figures["write"] else None,
                "first_write": f"POST {WRITES[name][0]}" if name in WRITES else NO_WRITE[name],
                "rss_kib": {"median": statistics.median(figures["rss"]), "max": max(figures["rss"])},
                # Of it: heap, stacks, written data (anonymous), and mapped pages of the
                # binary and libc (file-backed: the code and read-only data a start touched).
                "rss_anon_kib": statistics.median(figures["anon"]),
                "rss_file_kib": statistics.median(figures["file"]),
                "threads": statistics.median(figures["threads"]),
                "idle_rss_kib": idle,
                # The figures older reports read.
                "ready_ms_median": summary(figures["ready"])["median"],
                "ready_ms_max": summary(figures["ready"])["max"],
                "starts": starts,
                "image_own_bytes": size,
                "image_base": DISTROLESS_BASE,
                "ca_bundle_bytes": certificates,
            }
    return results


def measure(release_dir, starts=STARTS, databases=None, extra_env=None):
    """Per function: the figures above, for the binaries in `release_dir`."""
    return measure_builds({"this": release_dir}, starts, databases, extra_env)["this"]


def cell(figure):
    return "n/a" if figure is None else f"{figure['median']} / {figure['max']} ms"


def table(results, label=None):
    lines = [f"| function{' | build' if label else ''} | stripped binary | exec to /health | exec to /ready "
             "| exec to first write | RSS after 20 requests (anon + file) | idle RSS (3 s) | threads |",
             "|---|---|---|---|---|---|---|---|" + ("---|" if label else "")]
    for name in FUNCTIONS:
        for build, per_function in results.items():
            if name not in per_function:
                continue
            r = per_function[name]
            write = cell(r["first_write_ms"]) if r["first_write_ms"] else f"n/a: {r['first_write']}"
            lines.append(f"| `{name}`{f' | {build}' if label else ''} | {r['binary_bytes'] / 1e6:.1f} MB "
                         f"| {cell(r['health_ms'])} | {cell(r['ready_ms'])} | {write} "
                         f"| {r['rss_kib']['median'] / 1024:.1f} / {r['rss_kib']['max'] / 1024:.1f} MiB "
                         f"({r['rss_anon_kib'] / 1024:.1f} + {r['rss_file_kib'] / 1024:.1f}) "
                         f"| {r['idle_rss_kib'] / 1024:.1f} MiB | {r['threads']:g} |")
    return "\n".join(lines)


def main():
    builds = {"this": os.path.join(TARGET, "release")}
    baseline = os.environ.get("MEASURE_BASELINE")
    if baseline:
        builds["baseline"] = baseline
    results = measure_builds(builds)
    os.makedirs(TARGET, exist_ok=True)
    with open(os.path.join(TARGET, "measurements.json"), "w") as out:
        json.dump(results if baseline else results["this"], out, indent=2)
    print(f"Median / max of {STARTS} starts each{' (builds alternating)' if baseline else ''}:\n")
    print(table(results, label=bool(baseline)))


if __name__ == "__main__":
    sys.exit(main())

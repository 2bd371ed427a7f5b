#!/usr/bin/env python3
"""Measures each function's release binary: stripped size, time from exec to the first
200 on /ready (database and broker reachable), and idle RSS.

    make measure          (builds the release binaries first)

Needs the dev services (make services) and migrated databases (make migrate). Writes a
Markdown table to stdout and JSON to target/measurements.json. Loopback only; every wait
is bounded. `scripts/bench.py` (make bench) calls `measure` for its footprint table.

No image is built here (no container engine). `image_own_bytes` is only what the
Dockerfile's final stage adds on top of its base (gcr.io/distroless/cc-debian12:nonroot,
which carries the C runtime and the CA certificates): the binary, its one COPY. The base's
size is not measurable here and is not included; `ca_bundle_bytes` is this machine's CA
bundle, for reference (the image takes distroless's own).
"""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time

FUNCTIONS = {
    "register-influencer": "alpes",
    "create-campaign": "alpes",
    "send-contract": "alpes",
    "generate-report": "reportes",
    "compensate-report": "reportes",
}
STARTS = int(os.environ.get("MEASURE_STARTS", "20"))
PG_PORT = os.environ.get("PG_PORT", "5432")
PULSAR_URL = os.environ.get("PULSAR_URL", "pulsar://127.0.0.1:6650")
TARGET = os.environ.get("CARGO_TARGET_DIR", "target")
CA_CERTIFICATES = "/etc/ssl/certs/ca-certificates.crt"
DISTROLESS_BASE = "gcr.io/distroless/cc-debian12:nonroot"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status(port, path):
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        code = connection.getresponse().status
        connection.close()
        return code
    except OSError:
        return None


def start(binary, database):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": str(port),
        "DATABASE_URL": f"postgres://alpes:alpes@127.0.0.1:{PG_PORT}/{database}",
        "PULSAR_URL": PULSAR_URL,
        "PUSH_AUTH": "static",
        "PUSH_TOKEN": "measure",
        "RUST_LOG": "warn",
    }
    began = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = began + 20
    while time.perf_counter() < deadline:
        if status(port, "/ready") == 200:
            return process, port, (time.perf_counter() - began) * 1000
        time.sleep(0.001)
    process.kill()
    raise SystemExit(f"{binary} was not ready within 20 s")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status_file:
        for line in status_file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(release_dir, starts=STARTS):
    """Per function: stripped size, exec -> first 200 on /ready over `starts` starts, idle RSS."""
    certificates = os.path.getsize(CA_CERTIFICATES) if os.path.exists(CA_CERTIFICATES) else 0
    results = {}
    for name, database in FUNCTIONS.items():
        binary = os.path.join(release_dir, name)
        if not os.path.exists(binary):
            raise SystemExit(f"{binary} is missing: build with cargo build --release --bins")
        ready = []
        for _ in range(starts):
            process, _, millis = start(binary, database)
            ready.append(millis)
            stop(process)
        process, port, _ = start(binary, database)
        for _ in range(20):
            status(port, "/ready")
        time.sleep(3)
        idle = rss_kib(process.pid)
        stop(process)
        results[name] = {
            "binary_bytes": os.path.getsize(binary),
            "ready_ms_median": round(statistics.median(ready), 1),
            "ready_ms_max": round(max(ready), 1),
            "idle_rss_kib": idle,
            "starts": starts,
            "image_own_bytes": os.path.getsize(binary),
            "image_base": DISTROLESS_BASE,
            "ca_bundle_bytes": certificates,
        }
    return results


def main():
    results = measure(os.path.join(TARGET, "release"))
    os.makedirs(TARGET, exist_ok=True)
    with open(os.path.join(TARGET, "measurements.json"), "w") as out:
        json.dump(results, out, indent=2)
    print("| function | stripped binary | exec to first 200 on /ready (median / max of %d) | idle RSS |" % STARTS)
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| `{name}` | {r['binary_bytes'] / 1e6:.1f} MB | {r['ready_ms_median']} / {r['ready_ms_max']} ms | {r['idle_rss_kib'] / 1024:.1f} MiB |")


if __name__ == "__main__":
    sys.exit(main())

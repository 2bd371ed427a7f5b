"""Renders the results of scripts/bench.py as docs/BENCHMARKS.md and as a short summary."""

import os

COMMANDS = """```sh
make services            # PostgreSQL 15 and Pulsar 4.0.7 (once)
make bench               # release build into target/bench, then scripts/bench.py
```

`make bench` runs, in order:

```sh
nice -n 10 cargo build --release --bins                                   # CARGO_TARGET_DIR=target/bench
nice -n 10 cargo build --release -p pulsar-bridge --example throughput --example saga
CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \\
  nice -n 10 cargo build --release -p register-influencer                 # CARGO_TARGET_DIR=target/bench-profile (symbols for perf)
CARGO_TARGET_DIR=target/bench BENCH_PROFILE_BINARY=target/bench-profile/release/register-influencer scripts/bench.py
```

and `scripts/bench.py` itself drives, per step (every load bounded in time or count, all on
127.0.0.1; `BENCH_DURATION` seconds per load step, default 10). Every process it starts
publishes to a Pulsar namespace of the run's own (`PULSAR_NAMESPACE=public/bench-<run>`,
deleted at the end) and uses databases of its own (`bench_*`, dropped at the end), so
the dev databases, the contract's topics and concurrent e2e runs see none of the load:

| step | what runs |
|---|---|
| footprint | `scripts/measure_binaries.py`'s `measure_builds` (databases `bench_alpes` and `bench_reportes`, fresh; the run's namespace): per function, 20 starts polling `GET /health` every ms from exec, then `GET /ready` (which needs the database and the broker), RSS and threads after 20 `/ready` calls and 0.3 s; 20 starts whose first request is a write (`POST`, until the first 201); one RSS reading after 3 s idle. `BENCH_BASELINE=<release dir>` measures another build's functions alongside, starts alternating |
| http | one `register-influencer` (database `bench_alpes`, fresh; defaults: pool of 10, `RUST_LOG=info`, real Pulsar publishing); `wrk -t min(c,2) -c c -d 10s --timeout 10s -s scripts/bench/post.lua` (unique email per request) and `-s scripts/bench/get.lua` (10 000 ids of the rows just written), c = 1, 16, 64, after a 3 s warm-up |
| pgbench | `pgbench -n -M prepared -c c -j min(c,2) -T 10 -f scripts/bench/pg_register.sql bench_pgbench` (the insert + outbox transaction) and the same followed by `scripts/bench/pg_publish.sql` (the post-commit claim + mark-published transaction, without the broker) |
| bridge | `target/bench/release/examples/throughput 10000 <concurrency> 300` (`functions/pulsar-bridge/examples/throughput.rs`), concurrency (`BRIDGE_CONCURRENCY`) 16 and 64 |
| saga | the whole topology through `scripts/local.sh` (`make local`: `BIN_DIR=target/bench/release`, databases `bench_alpes` and `bench_reportes`, the run's namespace, free ports; `BENCH_OWN_LAUNCHER=1` starts the same processes from `bench.py` instead); `target/bench/release/examples/saga <gateway> 1000 4 20` then `... 1000 64 20` (`functions/pulsar-bridge/examples/saga.rs`) |
| scaling | two `register-influencer` instances on one database; `local-gateway` routing `/influencers` to one, then to both (round robin); `wrk` POST at 16 and 64 connections through the gateway |
| profile | `perf record -a -g -F 499 -- sleep 11` while `wrk` POSTs at 64 connections to `register-influencer` (the unstripped build); `perf report --no-children --sort comm,dso` and `--tid <the function's threads> --percentage relative --sort dso,sym` |
"""


def mb(value):
    return f"{value / 1e6:.1f} MB"


def ms(value):
    return f"{value:.1f} ms" if value == value else "n/a"


def cores(figures, *groups):
    cpu = figures.get("cpu_cores", {})
    return " / ".join(f"{cpu.get(group, 0):.2f}" for group in groups)


def ok(condition):
    return "yes" if condition else "**no**"


def best(runs, key="rps"):
    return max(runs, key=lambda run: run[key]) if runs else None


def ratios(results):
    """Function POST req/s divided by pgbench tps at each concurrency."""
    http = results.get("http", {}).get("post", [])
    pg = results.get("pgbench", {})
    rows = []
    for post, register, full in zip(http, pg.get("register", []), pg.get("register_and_publish", [])):
        rows.append((post["connections"], post["rps"], register["tps"], full["tps"],
                     post["rps"] / register["tps"] if register["tps"] else float("nan"),
                     post["rps"] / full["tps"] if full["tps"] else float("nan")))
    return rows


def markdown(results):
    machine = results["machine"]
    out = []
    add = out.append
    add("# Benchmarks\n")
    add("Measured by `make bench` (`scripts/bench.py`) on one machine over loopback; every figure "
        "below is a measurement of the run named here, never an estimate. The machine is shared "
        "with other builds and test runs, so the load average is recorded beside each figure "
        "and the CPU columns say which processes used the cores during each step.\n")
    built = ""
    if machine.get("binaries_commit") and machine.get("binaries_commit") != machine["commit"]:
        built = (f" (binaries built {machine['binaries_built']}, from the working tree of that time; "
                 f"the last commit before it: `{machine['binaries_commit']}`)")
    add(f"Run `{results['run']}` ({results['date']}), commit `{machine['commit']}`{built}, "
        f"{results.get('total_seconds', 0):.0f} s after the build; steps: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in results.get("step_seconds", {}).items())
        + ".\n")
    if results.get("carried_over"):
        add(f"Carried over from an earlier run (skipped in this one): {', '.join(results['carried_over'])}.\n")
    add("## Machine\n")
    add("| | |\n|---|---|")
    add(f"| CPU | {machine['cpu_model']}, **{machine['cores']} cores** |")
    add(f"| memory | {machine['memory_gib']} GiB |")
    add(f"| kernel | Linux {machine['kernel']} |")
    add(f"| load average (1/5/15 min) | before {results['load_before']}, after {results.get('load_after')} |")
    add(f"| PostgreSQL | {machine['postgres']} |")
    add(f"| Pulsar | {machine['pulsar']} |")
    add(f"| Rust | {machine['rustc']}; release profile: {machine.get('release_profile', 'not recorded')} |")
    add(f"| load generator | {machine['wrk']} |")
    add("")
    add("Load generator, function, PostgreSQL and Pulsar share the same cores: the figures are "
        "what one small machine does with everything on it, not a function's ceiling.\n")
    add("## How to run\n")
    add(COMMANDS)

    footprint = results.get("footprint")
    if footprint:
        add("## 1. Cold start and footprint\n")
        add("SPEC section 11: a function listens within 5 ms of exec, answers `/ready` within 15 ms, and "
            "idles under 8 MiB RSS (medians of 20 starts).\n")
        first = next(iter(footprint.values()))
        add(f"Median / max of {first['starts']} starts of each kind. `/health` and `/ready`: one start, "
            "`/health` polled every ms from exec, then `/ready`; the write: a start of its own whose first "
            "request is the write (201), polled from exec. RSS: after 20 `/ready` calls and 0.3 s "
            "without requests, every start; idle: once, after 3 s.\n")
        builds = [("this build", footprint)]
        baseline = results.get("footprint_baseline")
        if baseline:
            builds.append((f"baseline (`{baseline['release_dir']}`)", baseline["functions"]))
            add("The baseline's starts alternated with this build's, in the same run.\n")
        add("| function | build | stripped binary | exec to `/health` | exec to `/ready` | exec to first write "
            "| RSS after 20 requests (anon + file) | idle RSS (3 s) | threads | health <= 5 / ready <= 15 ms / RSS <= 8 MiB (medians) |")
        add("|---|---|---|---|---|---|---|---|---|---|")
        for name in footprint:
            for label, figures_by_name in builds:
                figures = figures_by_name.get(name)
                if not figures or "health_ms" not in figures:
                    continue
                write = figures.get("first_write_ms")
                write_cell = (f"{write['median']} / {write['max']} ms ({figures['first_write']})" if write
                              else f"n/a: {figures['first_write']}")
                rss = figures["rss_kib"]
                add(f"| `{name}` | {label} | {mb(figures['binary_bytes'])} "
                    f"| {figures['health_ms']['median']} / {figures['health_ms']['max']} ms "
                    f"| {figures['ready_ms']['median']} / {figures['ready_ms']['max']} ms | {write_cell} "
                    f"| {rss['median'] / 1024:.1f} / {rss['max'] / 1024:.1f} MiB "
                    f"({figures.get('rss_anon_kib', 0) / 1024:.1f} + {figures.get('rss_file_kib', 0) / 1024:.1f}) "
                    f"| {figures['idle_rss_kib'] / 1024:.1f} MiB | {figures['threads']:g} "
                    f"| {ok(figures['health_ms']['median'] <= 5)} / {ok(figures['ready_ms']['median'] <= 15)} "
                    f"/ {ok(rss['median'] <= 8 * 1024)} |")
        add("")
        bundle = first.get("ca_bundle_bytes", 0)
        add("**Image size: not measured, only its contents listed.** No container engine runs on "
            "this machine, so no image was built. The Dockerfile's final stage is "
            f"`{first.get('image_base', 'gcr.io/distroless/cc-debian12:nonroot')}` plus one `COPY` of the "
            "binary: the image is *binary + CA certificates + distroless base*, where the CA "
            "certificates and the C runtime ship inside the base, whose size is not measurable "
            "here and is not included"
            + (f" (for scale, this machine's CA bundle is {bundle / 1e3:.0f} kB)" if bundle else "")
            + ". `docker image ls` after building the Dockerfile elsewhere gives the real figure.\n")
        add("What remains of each figure, and why: \"Cold start\" under Findings.\n")

    http = results.get("http")
    if http:
        add("## 2. HTTP: `register-influencer`\n")
        add(f"One instance, {http['settings']}; database `bench_alpes` ({http['rows_after']} influencers "
            "after the POST runs). Latency is wrk's (request written to response read; wrk 4 "
            "is closed-loop, each connection waits for its answer). Errors: non-2xx answers "
            "(a taken email is 409; every email is unique, so any is a failure) and socket "
            "errors (connect/read/write/timeout). CPU: cores used during the step by the "
            "function / PostgreSQL / wrk / Pulsar (java) / other processes (other builds and "
            "tests on the machine), and the whole machine (2.00 = both cores busy).\n")
        add("| request | connections | req/s | p50 | p99 | p99.9 | max | non-2xx | socket errors | CPU function / postgres / wrk / pulsar / other / machine |")
        add("|---|---|---|---|---|---|---|---|---|---|")
        for label, runs in (("`POST /influencers`", http["post"]), ("`GET /influencers/{id}`", http["get"])):
            for run in runs:
                latency = run["latency_ms"]
                add(f"| {label} | {run['connections']} | **{run['rps']:.0f}** | {latency['p50']:.2f} ms "
                    f"| {latency['p99']:.2f} ms | {latency['p999']:.2f} ms | {latency['max']:.1f} ms "
                    f"| {run['non_2xx']} | {run['socket_errors']} "
                    f"| {cores(run, 'register-influencer', 'postgres', 'wrk', 'java', 'other', 'machine')} |")
        add("")

    pg = results.get("pgbench")
    if pg:
        add("### The same transaction, straight into PostgreSQL (pgbench)\n")
        add("`scripts/bench/pg_register.sql` is the transaction `POST /influencers` commits "
            "(`INSERT INTO alpes.influencers` + `INSERT INTO alpes.outbox`, values of the same "
            "sizes, prepared statements like sqlx): the function's one transaction per write. `+ publish` "
            "appends `pg_publish.sql`, the per-request claim + mark transaction of the earlier write "
            "path (kept for comparison: the function now marks published rows in batches, off the "
            "request path). Database `bench_pgbench`, fresh, same migrations. Ratio = "
            "function `POST` req/s (above) / pgbench tps at the same concurrency.\n")
        add("| clients | pgbench tps (insert + outbox) | p50 / p99 | pgbench tps (+ publish) | p50 / p99 | function POST req/s | ratio to insert + outbox | ratio to + publish | CPU postgres / pgbench / other / machine (insert + outbox) |")
        add("|---|---|---|---|---|---|---|---|---|")
        by_clients = {row[0]: row for row in ratios(results)}
        for register, full in zip(pg["register"], pg["register_and_publish"]):
            row = by_clients.get(register["clients"])
            function = f"{row[1]:.0f}" if row else "n/a"
            ratio_register = f"**{row[4]:.2f}**" if row else "n/a"
            ratio_full = f"{row[5]:.2f}" if row else "n/a"
            add(f"| {register['clients']} | {register['tps']:.0f} | {register['latency_ms']['p50']:.2f} / "
                f"{register['latency_ms']['p99']:.2f} ms | {full['tps']:.0f} | {full['latency_ms']['p50']:.2f} / "
                f"{full['latency_ms']['p99']:.2f} ms | {function} | {ratio_register} | {ratio_full} "
                f"| {cores(register, 'postgres', 'pgbench', 'other', 'machine')} |")
        add("")

    at_commit = (results.get("http") or {}).get("post_at_commit")
    if at_commit:
        add("### What the inline publish costs a write\n")
        add("The same `POST /influencers` with `PUBLISH_INLINE_BUDGET_MS=1`: each write answers "
            "right after its commit and its publish finishes in the background (the default waits "
            "up to 200 ms for the broker's receipt, a BookKeeper journal write). The difference "
            "to the table above is the broker's share of a write's latency.\n")
        add("| connections | req/s | p50 / p99 | ratio to pgbench (insert + outbox) |")
        add("|---|---|---|---|")
        pg = {row["clients"]: row for row in (results.get("pgbench") or {}).get("register", [])}
        for run in at_commit:
            base = pg.get(run["connections"])
            ratio = f"{run['rps'] / base['tps']:.2f}" if base else "n/a"
            add(f"| {run['connections']} | {run['rps']:.0f} | {ms(run['latency_ms']['p50'])} / "
                f"{ms(run['latency_ms']['p99'])} | {ratio} |")
        add("")

    tracing = results.get("tracing")
    if tracing:
        add("### What tracing costs a write\n")
        add("The same `register-influencer` binary as three instances side by side: spans exported to Jaeger "
            "(`OTEL_EXPORTER_OTLP_ENDPOINT`, batch processor), spans made and trace context carried but not "
            "exported (the default), and the OpenTelemetry layer off (`OTEL_SDK_DISABLED=true`); "
            "`POST /influencers` at 16 connections, rounds alternating between the three. Jaeger received "
            f"{tracing.get('spans_seen_in_jaeger', 0)} spans of the last 20 traces it was asked for.\n")
        add("| spans | round | req/s | p50 / p99 |")
        add("|---|---|---|---|")
        for key in ("disabled", "not_exported", "exported"):
            for number, run in enumerate(tracing["rounds"].get(key, []), 1):
                add(f"| {key.replace('_', ' ')} | {number} | {run['rps']:.0f} | {ms(run['latency_ms']['p50'])} / "
                    f"{ms(run['latency_ms']['p99'])} |")
        ratio = tracing.get("ratio")
        add(f"\nThroughput exported / layer off: **{ratio:.2f}**.\n" if ratio else "")

    hung = results.get("hung_broker")
    if hung:
        run = hung["post"]
        add("### Writes while the broker hangs\n")
        add(f"The same `register-influencer` and wrk script, 16 connections for {hung['frozen_s']} s while the "
            "Pulsar JVM is frozen with SIGSTOP (it accepts connections and answers nothing, as behind a dead "
            "network path or in a long GC pause). Each write commits, tries its inline publish for at most "
            "`PUBLISH_INLINE_BUDGET_MS`, then answers; after a few failures the circuit breaker stops trying "
            "and the relay keeps the events until the broker is back.\n")
        add("| requests | non-2xx | socket errors | req/s | p50 / p99 / max | `/ready` while frozen | outbox drained after SIGCONT |")
        add("|---|---|---|---|---|---|---|")
        drained = hung.get("outbox_drained_after_s")
        add(f"| {run['requests']} | {run['non_2xx']} | {run['socket_errors']} | {run['rps']:.0f} "
            f"| {ms(run['latency_ms']['p50'])} / {ms(run['latency_ms']['p99'])} / {ms(run['latency_ms'].get('max', 0))} "
            f"| {hung['ready_status_while_frozen']} | {'%s s' % drained if drained is not None else 'not within 300 s'} |")
        add("")

    bridge = results.get("bridge")
    if bridge:
        add("## 3. Events\n")
        add("### One bridge pushing to one endpoint\n")
        add("`functions/pulsar-bridge/examples/throughput.rs`: one bridge in-process drains a "
            "backlog of messages to a trivial loopback endpoint (decodes the envelope, 204); "
            "then 300 messages one at a time, publish to push, against the same path to a "
            "plain Pulsar consumer (the broker's share); the difference is what the bridge adds.\n")
        add("| concurrency (`BRIDGE_CONCURRENCY`) | messages | events/s | publish -> push p50 / p99 | publish -> plain consumer p50 / p99 | added by the bridge p50 / p99 |")
        add("|---|---|---|---|---|---|")
        for run in bridge:
            add(f"| {run['concurrency']} | {run['messages']} | **{run['messages_per_s']:.0f}** "
                f"| {run['publish_to_push_ms']['p50']:.2f} / {run['publish_to_push_ms']['p99']:.2f} ms "
                f"| {run['publish_to_consumer_ms']['p50']:.2f} / {run['publish_to_consumer_ms']['p99']:.2f} ms "
                f"| {run['added_ms']['p50']:+.2f} / {run['added_ms']['p99']:+.2f} ms |")
        add("")

    saga = results.get("saga")
    if saga:
        add("### The saga end to end\n")
        add("The five functions, one bridge and the gateway as separate processes, started by "
            f"{saga.get('launcher', 'bench.py')}; the sagas enter through `local-gateway`. Each saga is `POST /influencers` (client-chosen id, "
            "unique email) -> `InfluencerRegistrado` -> welcome campaign -> `CampanaCreada` -> "
            "report (`ReporteCreado`) and contract -> `ContratoCreado` -> report completed; it "
            "ends when `EventoReporte` with `estado = completado` for that influencer arrives on "
            "a non-durable subscription of `eventos-reportes` opened before the first request. "
            "Closed loop: at most *concurrency* sagas in flight, 20 warm-up sagas not counted. "
            "sagas/s = completed sagas / (first POST to last completion).\n")
        add("| run | sagas | in flight | completed | failed | sagas/s | 201 -> completado p50 | p90 | p99 | max | POST p50 / p99 | CPU functions+bridge / postgres / pulsar / other / machine |")
        add("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for label in ("latency", "saturation"):
            run = saga.get(label)
            if not run:
                continue
            cpu = run.get("cpu_cores", {})
            ours = sum(value for key, value in cpu.items()
                       if key in ("register-influencer", "create-campaign", "send-contract", "generate-report",
                                  "compensate-report", "pulsar-bridge", "local-gateway"))
            latency = run["after_201_ms"]
            add(f"| {label} | {run['sagas']} | {run['concurrency']} | {run['completed']} | {run['failed']} "
                f"| **{run['sagas_per_s']:.1f}** | **{latency['p50']:.1f} ms** | {latency['p90']:.1f} ms "
                f"| **{latency['p99']:.1f} ms** | {latency['max']:.1f} ms "
                f"| {run['post_ms']['p50']:.1f} / {run['post_ms']['p99']:.1f} ms "
                f"| {ours:.2f} / {cpu.get('postgres', 0):.2f} / {cpu.get('java', 0):.2f} / {cpu.get('other', 0):.2f} / {cpu.get('machine', 0):.2f} |")
        add("")

    scaling = results.get("scaling")
    if scaling:
        add("## 4. Scaling\n")
        if "skipped" in scaling:
            add(f"Instances behind the gateway: skipped ({scaling['skipped']}).\n")
        else:
            add("`POST /influencers` through `local-gateway` (round robin) to one, then two "
                "`register-influencer` instances on the same database (pool of 10 each). Same "
                "wrk script and duration as above.\n")
            add("| instances | connections | req/s | p50 | p99 | p99.9 | non-2xx | socket errors | CPU functions / gateway / postgres / wrk / other / machine |")
            add("|---|---|---|---|---|---|---|---|---|")
            for instances, runs in scaling["post_via_gateway"].items():
                for run in runs:
                    latency = run["latency_ms"]
                    add(f"| {instances} | {run['connections']} | **{run['rps']:.0f}** | {latency['p50']:.2f} ms "
                        f"| {latency['p99']:.2f} ms | {latency['p999']:.2f} ms | {run['non_2xx']} | {run['socket_errors']} "
                        f"| {cores(run, 'register-influencer', 'local-gateway', 'postgres', 'wrk', 'other', 'machine')} |")
            add("")
        if bridge and len(bridge) > 1:
            first, last = bridge[0], bridge[-1]
            add(f"Bridge concurrency: {first['messages_per_s']:.0f} events/s at {first['concurrency']} pushes in "
                f"flight, {last['messages_per_s']:.0f} events/s at {last['concurrency']} (table in section 3).\n")

    profile = results.get("profile")
    if profile and "skipped" not in profile:
        add("## 5. Profile of the slowest path\n")
        add(f"`POST /influencers` under load (64 connections, {profile['load']['rps']:.0f} req/s, p99 "
            f"{profile['load']['p99_ms']:.1f} ms during the recording), `perf record -a -g -F 499` over the "
            f"whole machine; binary `{profile['binary']}`"
            + (" (release, not stripped, line tables)" if profile.get("symbols") else " (stripped: frames of our binary are unnamed)")
            + ". Self time (`--no-children`).\n")
        add("Samples by thread name and object (`tokio-rt-worker` threads are the function's, `swapper` is idle time):\n")
        add("| share | thread, object |\n|---|---|")
        for share, name in profile["by_process"]:
            add(f"| {share:.1f}% | `{name}` |")
        add("")
        add("Top frames inside `register-influencer` (share of the function's own samples):\n")
        add("| share | object, symbol |\n|---|---|")
        for share, name in profile["register_influencer_top"]:
            add(f"| {share:.2f}% | `{name.replace('|', '/')}` |")
        add("")

    add(findings(results))
    return "\n".join(out) + "\n"


def findings(results):
    lines = ["## Against SPEC section 11\n"]
    footprint = results.get("footprint", {})
    if footprint and "health_ms" in next(iter(footprint.values())):
        def worst(key):
            return max(f[key]["median"] for f in footprint.values())
        health, ready = worst("health_ms"), worst("ready_ms")
        rss = max(f["rss_kib"]["median"] for f in footprint.values()) / 1024
        lines.append(f"- Listening within 5 ms (exec to `/health`): median at most {health} ms "
                     f"({health / 5:.2f} of the target).")
        lines.append(f"- `/ready` within 15 ms: median at most {ready} ms ({ready / 15:.2f} of the target).")
        lines.append(f"- Idle under 8 MiB: median RSS at most {rss:.1f} MiB ({rss / 8:.2f} of the target).")
        lines.append("- Image size: not measurable here (see section 1).")
    http = results.get("http", {})
    if http:
        top = best(http["post"])
        lines.append(f"- `POST /influencers` on 2 cores: best {top['rps']:.0f} req/s at {top['connections']} "
                     f"connections, p99 {top['latency_ms']['p99']:.1f} ms (target p99 < 50 ms: "
                     f"{top['latency_ms']['p99'] / 50:.2f} of it). Against pgbench's insert + outbox "
                     "transaction: " + ", ".join(f"{row[4]:.2f} at {row[0]}" for row in ratios(results))
                     + "; against insert + outbox + publish bookkeeping: "
                     + ", ".join(f"{row[5]:.2f} at {row[0]}" for row in ratios(results)) + ".")
    saga = results.get("saga", {})
    if saga.get("latency"):
        p50 = saga["latency"]["after_201_ms"]["p50"]
        lines.append(f"- Saga p50 under 250 ms: {p50:.1f} ms at {saga['latency']['concurrency']} in flight "
                     f"({p50 / 250:.2f} of the target); p99 {saga['latency']['after_201_ms']['p99']:.1f} ms.")
    lines.append("")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench", "findings.md")
    if os.path.exists(notes):
        with open(notes) as file:
            lines.append(file.read().rstrip() + "\n")
    return "\n".join(lines)


def summary(results):
    lines = [f"Benchmarks ({results['machine']['cores']} cores, {results['machine']['memory_gib']} GiB, "
             f"load {results['load_before']} -> {results.get('load_after')}):"]
    footprint = results.get("footprint", {})
    if footprint:
        medians = [f["ready_ms_median"] for f in footprint.values()]
        rss = [f["idle_rss_kib"] / 1024 for f in footprint.values()]
        sizes = [f["binary_bytes"] / 1e6 for f in footprint.values()]
        if "health_ms" in next(iter(footprint.values())):
            health = [f["health_ms"]["median"] for f in footprint.values()]
            lines.append(f"  listening (exec -> 200 /health) median {min(health)}-{max(health)} ms")
        lines.append(f"  cold start (exec -> 200 /ready) median {min(medians)}-{max(medians)} ms, max "
                     f"{max(f['ready_ms_max'] for f in footprint.values())} ms; idle RSS {min(rss):.1f}-{max(rss):.1f} MiB; "
                     f"binaries {min(sizes):.1f}-{max(sizes):.1f} MB")
    http = results.get("http", {})
    for label, key in (("POST /influencers", "post"), ("GET /influencers/{id}", "get")):
        if http.get(key):
            lines.append(f"  {label}: " + "; ".join(
                f"c={run['connections']} {run['rps']:.0f} req/s p99 {run['latency_ms']['p99']:.1f} ms"
                + (f" ({run['non_2xx'] + run['socket_errors']} errors)" if run['non_2xx'] + run['socket_errors'] else "")
                for run in http[key]))
    rows = ratios(results)
    if rows:
        lines.append("  function / pgbench (insert + outbox): " + ", ".join(f"c={row[0]} {row[4]:.2f}" for row in rows))
    for run in results.get("bridge", []):
        lines.append(f"  bridge c={run['concurrency']}: {run['messages_per_s']:.0f} events/s, added p50 "
                     f"{run['added_ms']['p50']:+.2f} ms p99 {run['added_ms']['p99']:+.2f} ms")
    saga = results.get("saga", {})
    for label in ("latency", "saturation"):
        if saga.get(label):
            run = saga[label]
            lines.append(f"  saga ({run['concurrency']} in flight, {run['completed']}/{run['sagas']} completed): "
                         f"p50 {run['after_201_ms']['p50']:.1f} ms p99 {run['after_201_ms']['p99']:.1f} ms, "
                         f"{run['sagas_per_s']:.1f} sagas/s")
    scaling = results.get("scaling", {}).get("post_via_gateway", {})
    for instances, runs in scaling.items():
        lines.append(f"  via gateway, {instances} instance(s): " + "; ".join(
            f"c={run['connections']} {run['rps']:.0f} req/s" for run in runs))
    return "\n".join(lines)


if __name__ == "__main__":
    # Re-renders docs/BENCHMARKS.md from docs/benchmarks.json (e.g. after editing
    # scripts/bench/findings.md), without measuring again.
    import json

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "benchmarks.json")) as source:
        measured = json.load(source)
    with open(os.path.join(root, "docs", "BENCHMARKS.md"), "w") as target:
        target.write(markdown(measured))
    print(summary(measured))

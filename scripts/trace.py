#!/usr/bin/env python3
"""One saga's waterfall in the terminal, from Jaeger's query API (make trace).

    scripts/trace.py                 the latest trace that began in SERVICE
    scripts/trace.py <trace id>      that trace
    scripts/trace.py --list          the latest traces of SERVICE: id, start, spans, services
    scripts/trace.py --html FILE [<trace id>]
                                     the same waterfall as one HTML page (docs/images/saga-trace.png
                                     is headless Chromium's screenshot of one)

Settings (environment): JAEGER_UI_PORT (16686) or JAEGER_URL (http://127.0.0.1:16686);
SERVICE (register-influencer); LIMIT (20, for --list).

Each line is a span: offset from the trace's start, duration, service, operation and its
most telling tags (attempt, status, event id, error), indented under its parent. A span
whose parent is not in the trace (the caller's, or one still being exported) is shown at
the top level. The Jaeger built from the Go module proxy serves this API but not its web
UI (the UI's assets are built from another repository; docs/DECISIONS.md).
"""

import json
import os
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request

JAEGER = os.environ.get("JAEGER_URL", f"http://127.0.0.1:{os.environ.get('JAEGER_UI_PORT', '16686')}").rstrip("/")
SERVICE = os.environ.get("SERVICE", "register-influencer")
LIMIT = int(os.environ.get("LIMIT", "20"))
TAGS = ("attempt", "status", "event_id", "event_type", "correlation_id", "error", "otel.status_code")


def get(path):
    try:
        with urllib.request.urlopen(f"{JAEGER}{path}", timeout=10) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise SystemExit(f"no such trace in Jaeger ({JAEGER}{path})") from None
        raise SystemExit(f"Jaeger answered {error.code} to {path}") from None
    except OSError as error:
        raise SystemExit(f"Jaeger does not answer at {JAEGER} ({error}): make local TRACING=1, or make jaeger")


def latest_traces():
    query = urllib.parse.urlencode({"service": SERVICE, "limit": LIMIT, "lookback": "1h"})
    traces = get(f"/api/traces?{query}").get("data") or []
    return sorted(traces, key=lambda trace: min(span["startTime"] for span in trace["spans"]), reverse=True)


def describe(trace):
    start = min(span["startTime"] for span in trace["spans"])
    services = sorted({trace["processes"][span["processID"]]["serviceName"] for span in trace["spans"]})
    return start, services


def rows(trace):
    """The spans in waterfall order: (span, depth, service, offset µs, details)."""
    spans = {span["spanID"]: span for span in trace["spans"]}
    children = {}
    roots = []
    for span in trace["spans"]:
        parent = next((ref["spanID"] for ref in span.get("references", []) if ref["refType"] == "CHILD_OF"), None)
        if parent in spans:
            children.setdefault(parent, []).append(span)
        else:
            roots.append(span)
    start, _ = describe(trace)
    ordered = []

    def visit(span, depth):
        service = trace["processes"][span["processID"]]["serviceName"]
        tags = {tag["key"]: tag["value"] for tag in span.get("tags", [])}
        details = " ".join(f"{key}={tags[key]}" for key in TAGS if key in tags and key != "event_type")
        ordered.append((span, depth, service, span["startTime"] - start, details))
        for child in sorted(children.get(span["spanID"], []), key=lambda item: item["startTime"]):
            visit(child, depth + 1)

    for root in sorted(roots, key=lambda item: item["startTime"]):
        visit(root, 0)
    return ordered


def headline(trace):
    start, services = describe(trace)
    end = max(span["startTime"] + span["duration"] for span in trace["spans"])
    return (f"trace {trace['traceID']}: {len(trace['spans'])} spans, {(end - start) / 1000:.1f} ms, "
            f"{', '.join(services)}"), end - start


def waterfall(trace):
    print(headline(trace)[0])
    for span, depth, service, offset, details in rows(trace):
        print(f"{offset / 1000:9.1f} ms {span['duration'] / 1000:8.1f} ms  {'  ' * depth}{service}: "
              f"{span['operationName']}  {details}".rstrip())


# One colour per service, in the order services appear.
COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f", "#bab0ac")


def html(trace):
    """The waterfall as one self-contained HTML page (no script, no external asset)."""
    import html as escape

    title, total = headline(trace)
    total = max(total, 1)
    colours = {}
    lines = []
    for span, depth, service, offset, details in rows(trace):
        colour = colours.setdefault(service, COLOURS[len(colours) % len(COLOURS)])
        left = 100 * offset / total
        width = max(100 * span["duration"] / total, 0.15)
        label = f"{escape.escape(service)}: {escape.escape(span['operationName'])}"
        lines.append(
            f'<div class="row"><div class="name" style="padding-left:{8 + 14 * depth}px">'
            f'<span class="dot" style="background:{colour}"></span>{label}'
            f'<span class="tags">{escape.escape(details)}</span></div>'
            f'<div class="lane"><div class="bar" style="left:{left:.3f}%;width:{width:.3f}%;background:{colour}"></div>'
            f'<span class="time" style="left:{min(left + width, 88):.3f}%">{span["duration"] / 1000:.1f} ms</span></div></div>')
    ticks = "".join(f'<span style="left:{100 * i / 4}%;transform:translateX(-{25 * i}%)">{total * i / 4000:.1f} ms</span>'
                    for i in range(5))
    legend = "".join(f'<span><span class="dot" style="background:{c}"></span>{escape.escape(s)}</span>'
                     for s, c in colours.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{escape.escape(title)}</title><style>
body {{ font: 13px system-ui, sans-serif; margin: 16px; color: #222; }}
h1 {{ font-size: 15px; margin: 0 0 6px; }} .legend span {{ margin-right: 14px; }}
.row {{ display: flex; border-bottom: 1px solid #eee; height: 22px; align-items: center; }}
.name {{ width: 46%; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.tags {{ color: #777; margin-left: 8px; font-size: 11px; }}
.lane, .axis {{ position: relative; width: 54%; height: 100%; }}
.bar {{ position: absolute; top: 5px; height: 12px; border-radius: 2px; }}
.time {{ position: absolute; top: 3px; margin-left: 4px; font-size: 11px; color: #555; }}
.axis span {{ position: absolute; font-size: 11px; color: #777; white-space: nowrap; }}
.dot {{ display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 5px; }}
</style></head><body>
<h1>{escape.escape(title)}</h1>
<div class="legend">{legend}</div>
<div class="row"><div class="name"><b>service: operation</b></div><div class="axis">{ticks}</div></div>
{chr(10).join(lines)}
</body></html>
"""


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return
    output = None
    if argv and argv[0] == "--html":
        if len(argv) < 2:
            raise SystemExit("--html needs a file to write")
        output, argv = argv[1], argv[2:]
    if argv and argv[0] == "--list":
        for trace in latest_traces():
            start, services = describe(trace)
            print(f"{trace['traceID']}  {len(trace['spans']):4d} spans  {', '.join(services)}")
        return
    if argv:
        data = get(f"/api/traces/{argv[0]}").get("data") or []
        if not data:
            raise SystemExit(f"no trace {argv[0]} in Jaeger")
        show(data[0], output)
        return
    traces = latest_traces()
    if not traces:
        raise SystemExit(f"no trace of {SERVICE} in Jaeger's last hour (SERVICE=<name> picks another)")
    show(traces[0], output)


def show(trace, output):
    if output is None:
        waterfall(trace)
        return
    with open(output, "w", encoding="utf-8") as file:
        file.write(html(trace))
    print(f"{headline(trace)[0]}\nwritten to {output}")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `make trace | head` ends quietly
    main(sys.argv[1:])

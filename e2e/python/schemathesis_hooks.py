"""schemathesis hooks of e2e/tests/openapi_conformance.rs (loaded through SCHEMATHESIS_HOOKS).

One rule of the API spans two fields and no JSON Schema can state it: a period's `fecha_fin`
must be after its `fecha_inicio` (campaigns and contracts, SPEC section 3). Rather than
declaring that those operations may refuse valid data, this hook orders the dates of every
request before it is sent, so that generated data is valid and every check stays on: when
both dates are RFC 3339 instants and the end is not after the start (at the microsecond, the
precision the functions keep), the end becomes the start plus one day (or, when that does not
fit, the start becomes the end minus one day). Where a missing start means "now" (`POST
/campanas`), an end that is not well after now becomes now plus one day. Anything else is sent as generated: a date
that is not an RFC 3339 instant is left for the function to refuse. schemathesis revalidates
an edited case against the schema, so a negative case stays classified by what it carries.
"""

import re
from datetime import datetime, timedelta, timezone

import schemathesis

# RFC 3339 `date-time`, as the functions parse it (chrono's `parse_from_rfc3339`, after
# trimming); leap seconds (`:60`) are left alone.
RFC3339 = re.compile(
    r"\s*\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:[0-5]\d(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\s*"
)
PERIODS = [("fecha_inicio", "fecha_fin")]
# Operations whose period starts now when the start is not given (null, blank or absent).
START_DEFAULTS_TO_NOW = {("POST", "/campanas")}
DAY = timedelta(days=1)
# Room between this hook and the function's clock.
MARGIN = timedelta(hours=1)


def _instant(value):
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        return None
    text = value.strip().replace("z", "Z").replace("t", "T")
    text = text[:-1] + "+00:00" if text.endswith("Z") else text
    date, _, time = text.partition("T") if "T" in text else text.partition(" ")
    # Python keeps microseconds; more digits are cut, as the functions do.
    time = re.sub(r"\.(\d{1,6})\d*", lambda m: "." + m.group(1).ljust(6, "0"), time)
    try:
        return datetime.fromisoformat(f"{date}T{time}").astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def _format(instant):
    return instant.isoformat().replace("+00:00", "Z")


@schemathesis.hook
def before_call(context, case, kwargs):
    body = case.body
    if not isinstance(body, dict):
        return
    operation = (context.operation.method.upper(), context.operation.path)
    for start_field, end_field in PERIODS:
        start, end = _instant(body.get(start_field)), _instant(body.get(end_field))
        raw_start = body.get(start_field)
        not_given = raw_start is None or (isinstance(raw_start, str) and not raw_start.strip())
        if end is not None and not_given and operation in START_DEFAULTS_TO_NOW:
            now = datetime.now(timezone.utc)
            if end <= now + MARGIN:
                body[end_field] = _format(now + DAY)
            continue
        if start is None or end is None or end > start:
            continue
        try:
            body[end_field] = _format(start + DAY)
        except OverflowError:
            try:
                body[start_field] = _format(end - DAY)
            except OverflowError:
                continue

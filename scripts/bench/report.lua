-- Shared by post.lua and get.lua: writes wrk's summary as JSON to $WRK_JSON.
local report = {}

function report.done(summary, latency, requests)
  local path = os.getenv("WRK_JSON")
  if not path then return end
  local errors = summary.errors
  local out = io.open(path, "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d, "mean": %.1f}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
  out:close()
end

return report

-- wrk script: POST /influencers, every request with a unique email.
-- WRK_RUN (a per-run tag) keeps emails unique across runs against the same database.
package.path = os.getenv("WRK_LUA_DIR") .. "/?.lua;" .. package.path
local report = require("report")

local threads = {}
local counter = 0
local prefix = ""

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  prefix = (os.getenv("WRK_RUN") or "run") .. "-" .. tostring(tid)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"nombre": "Bench %d", "email": "b-%s-%d@bench.example.com", ' ..
    '"categorias": ["moda", "viajes"], "plataformas": ["instagram"]}',
    counter, prefix, counter)
  return wrk.format("POST", "/influencers", nil, body)
end

done = report.done

-- wrk script: GET /influencers/{id}, cycling over the ids in $WRK_IDS (one per line).
package.path = os.getenv("WRK_LUA_DIR") .. "/?.lua;" .. package.path
local report = require("report")

local threads = {}
local ids = {}
local index = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("WRK_IDS")) do
    if #line > 0 then table.insert(ids, line) end
  end
  index = tid * 7919
end

function request()
  index = index + 1
  return wrk.format("GET", "/influencers/" .. ids[(index % #ids) + 1])
end

done = report.done

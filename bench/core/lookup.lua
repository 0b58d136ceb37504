-- wrk script: the IVR/bot customer lookup by phone, over known customers
-- (bench/core/run.sh writes their phones, one per line, to OTKLIK_PHONES).
-- The requests are formatted once, in init, so the load generator spends
-- its share of the two CPUs on sending rather than on building strings.
local thread_no = 0

setup = function(thread)
  thread:set("tid", thread_no)
  thread_no = thread_no + 1
end

local reqs = {}
local i = 0

init = function(args)
  local phones = {}
  for line in io.lines(os.getenv("OTKLIK_PHONES")) do phones[#phones + 1] = line end
  local headers = { ["Authorization"] = "Bearer " .. os.getenv("OTKLIK_TOKEN") }
  -- Each thread walks the phones in its own order.
  for k = 1, #phones do
    local phone = phones[((k * 7919 + tid * 104729) % #phones) + 1]
    reqs[k] = wrk.format("GET", "/api/v1/customers/lookup?phone=%2B" .. phone:sub(2), headers)
  end
end

request = function()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end

done = function(summary, latency, requests)
  io.write(string.format("lookup: %d requests, %d non-2xx\n", summary.requests, summary.errors.status))
end

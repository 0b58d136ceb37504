-- wrk script: the IVR/bot customer lookup by phone, over known customers
-- (bench/core/run.sh writes their phones, one per line, to OTKLIK_PHONES).
local phones = {}
for line in io.lines(os.getenv("OTKLIK_PHONES")) do phones[#phones + 1] = line end
local auth = "Bearer " .. os.getenv("OTKLIK_TOKEN")
local i = 0
local thread_no = 0

setup = function(thread)
  thread:set("tid", thread_no)
  thread_no = thread_no + 1
end

request = function()
  i = i + 1
  local phone = phones[((i * 7919 + tid * 104729) % #phones) + 1]
  return wrk.format("GET", "/api/v1/customers/lookup?phone=%2B" .. phone:sub(2), { ["Authorization"] = auth })
end

done = function(summary, latency, requests)
  io.write(string.format("lookup: %d requests, %d non-2xx\n", summary.requests, summary.errors.status))
end

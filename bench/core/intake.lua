-- wrk script: single-request intake, each request a new message
-- (unique source_id) from a rotating set of customers and texts.
local thread_no = 0
local run = tostring(os.time())

setup = function(thread)
  thread:set("tid", thread_no)
  thread_no = thread_no + 1
end

local texts = {
  "Очередь на кассе 20 минут, работает одна касса!!!",
  "Где мой заказ? Обещали привезти вчера",
  "Спасибо кассиру Анне за вежливое обслуживание",
  "Продали просроченный творог, верните деньги",
  "На ценнике одна цена, на кассе пробили другую",
  "Не начислились бонусы за покупку",
  "Приложение не открывается после обновления",
}

-- Store codes of the database under test, one per line (bench/core/run.sh writes them).
local stores = {}
for line in io.lines(os.getenv("OTKLIK_STORES")) do stores[#stores + 1] = line end

local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"channel":"telegram","source_id":"bench-%s-%d-%d","customer":{"phone":"+7916%07d","telegram_id":"%d"},"store":"%s","text":"%s"}',
    run, tid, n, (tid * 1000003 + n) % 10000000, tid * 100000000 + n, stores[(n % #stores) + 1], texts[(n % #texts) + 1])
  return wrk.format("POST", "/api/v1/requests",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("OTKLIK_TOKEN") }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("intake: %d requests, %d errors (status %d, timeouts %d)\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end

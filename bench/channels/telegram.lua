-- wrk script: Telegram Bot API webhook Updates, each a new message from one
-- of many chats, with the X-Telegram-Bot-Api-Secret-Token header checked by
-- otklik.  Path and secret come from the environment (run.sh sets them).
local thread_no = 0
local run = os.time()

setup = function(thread)
  thread:set("tid", thread_no)
  thread_no = thread_no + 1
end

local texts = {
  "Очередь на кассе 20 минут, работает одна касса!!!",
  "Где мой заказ? Обещали привезти вчера",
  "Спасибо кассиру Анне за вежливое обслуживание",
  "Продали просроченный творог, верните деньги",
  "Не начислились бонусы за покупку",
}

local n = 0
request = function()
  n = n + 1
  local chat = 5000000000 + tid * 100000 + (n % 5000)
  local body = string.format(
    '{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"Покупатель","language_code":"ru"},"chat":{"id":%d,"first_name":"Покупатель","type":"private"},"date":%d,"text":"%s"}}',
    run * 1000 + tid * 100000000 + n, tid * 100000000 + n, chat, chat, run, texts[(n % #texts) + 1])
  return wrk.format("POST", os.getenv("HOOK_PATH"),
    { ["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = os.getenv("HOOK_SECRET") }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("webhook: %d requests, %d errors (status %d, timeouts %d), p99 %.1f ms\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(99) / 1000))
end

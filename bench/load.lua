-- bench/load.lua — wrk script for bench/load.sh: k6.js's iteration under
-- wrk.  Each request POSTs /api/tasks with one of k6.js's eight names and a
-- duration of 1–5 s; each connection then waits $JC_DELAY_MS (±50 %, so the
-- connections do not march in step) before its next request, so that C
-- connections offer about C × 1000 / JC_DELAY_MS tasks/s: an open-loop
-- arrival rate, as k6's arrival-rate executors give, as long as answers
-- take far less than the delay.
-- Counts, over all threads: 202 (of which "queued"), 503 with Retry-After,
-- 503 without it, and any other status; done() prints one line for load.sh:
--   result requests=… c202=… queued=… c503=… c503_noretry=… other=…
--   sockerr=… p50_ms=… p95_ms=… p99_ms=… max_ms=…
local threads = {}
local names = {"generate-report", "process-dataset", "send-notification", "worker-alpha",
               "worker-beta", "worker-gamma", "resize-images", "sync-inventory"}
local delay_ms = tonumber(os.getenv("JC_DELAY_MS") or "100")

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   c202, queued, c503, c503_noretry, other = 0, 0, 0, 0, 0
   math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end

function request()
   local body = string.format('{"name":"%s","duration":%d}', names[math.random(#names)], math.random(1, 5))
   return wrk.format("POST", "/api/tasks", {["Content-Type"] = "application/json"}, body)
end

function delay()
   return math.floor(delay_ms * (0.5 + math.random()))
end

local function has_retry_after(headers)
   for k, _ in pairs(headers) do
      if string.lower(k) == "retry-after" then
         return true
      end
   end
   return false
end

function response(status, headers, body)
   if status == 202 then
      c202 = c202 + 1
      if body and string.find(body, '"status":"queued"', 1, true) then
         queued = queued + 1
      end
   elseif status == 503 and has_retry_after(headers) then
      c503 = c503 + 1
   elseif status == 503 then
      c503_noretry = c503_noretry + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local t = {c202 = 0, queued = 0, c503 = 0, c503_noretry = 0, other = 0}
   for _, th in ipairs(threads) do
      for k, _ in pairs(t) do
         t[k] = t[k] + th:get(k)
      end
   end
   local e = summary.errors
   io.write(string.format("result requests=%d c202=%d queued=%d c503=%d c503_noretry=%d other=%d " ..
      "sockerr=%d p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
      summary.requests, t.c202, t.queued, t.c503, t.c503_noretry, t.other,
      e.connect + e.read + e.write + e.timeout,
      latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000))
end

-- bench/post.lua — wrk script: POST /api/tasks with the body in $JC_BODY on
-- keep-alive connections; counts 202 (spawned), 503 (load shed: max_running
-- tasks alive) and anything else, over all wrk threads.
local threads = {}

wrk.method = "POST"
wrk.body = os.getenv("JC_BODY") or '{"name":"bench","command":["/bin/true"]}'
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   c202, c503, cother = 0, 0, 0
end

function response(status, headers, body)
   if status == 202 then
      c202 = c202 + 1
   elseif status == 503 then
      c503 = c503 + 1
   else
      cother = cother + 1
   end
end

function done(summary, latency, requests)
   local a, b, c = 0, 0, 0
   for _, t in ipairs(threads) do
      a = a + t:get("c202")
      b = b + t:get("c503")
      c = c + t:get("cother")
   end
   io.write(string.format("status: 202=%d 503=%d other=%d\n", a, b, c))
end

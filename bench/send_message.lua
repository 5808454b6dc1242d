-- bench.commands' wrk script (a string.Template: $ids, $token, $content filled in):
-- POST /api/messages for a random conversation, and the figures in one line.
local ids = {$ids}
local requests = {}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
end
function init(args)
  math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919)
  for i, id in ipairs(ids) do
    local body = '{"conversation_id":"' .. id .. '","content":"$content"}'
    requests[i] = wrk.format(nil, nil, nil, body)
  end
end
function request()
  return requests[math.random(#requests)]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d"
    .. " p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

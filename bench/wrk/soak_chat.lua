-- wrk script for bench/soak.py: chat completions with a new prompt each time (so the gateway's
-- prefix index keeps filling and evicting), behind one of 16 shared system prompts; every second
-- request streamed. Environment: MODEL.
local model = os.getenv("MODEL") or "Qwen/Qwen3-0.6B"
local counter = 0
local systems = {}
for i = 1, 16 do
  systems[i] = string.rep(string.format("You are assistant %d; answer briefly. ", i), 20)
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"model":"%s","stream":%s,"max_tokens":%d,"messages":[{"role":"system","content":"%s"},' ..
    '{"role":"user","content":"question %d-%d %d"}]}',
    model, (counter % 2 == 0) and "true" or "false", 4 + counter % 29,
    systems[1 + counter % 16], id or 0, counter, math.random(1, 1000000000))
  return wrk.format("POST", "/v1/chat/completions", {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk: %d requests in %.1f s (%.0f/s), p50 %.1f ms, p99 %.1f ms, non-2xx %d, " ..
    "connect %d, read %d, write %d, timeout %d errors\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect, e.read, e.write, e.timeout))
end

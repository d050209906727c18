-- wrk script: POST an OpenAI chat-completions body of exactly BODY_BYTES bytes whose top-level
-- "model" comes *after* a large "messages" array (the hard case for proxies that only look at the
-- start of the body). Environment: BODY_BYTES (default 2048), MODEL (default bench-a),
-- BENCH_PATH (default /v1/chat/completions), PACE_MS (a pause before each request on a
-- connection: a load below saturation, so latency is the proxy's work rather than its queue).
-- At the end it prints one machine-readable line: "RESULT {json}" (latency in microseconds).

local size = tonumber(os.getenv("BODY_BYTES") or "2048")
local model = os.getenv("MODEL") or "bench-a"
local path = os.getenv("BENCH_PATH") or "/v1/chat/completions"

local function make_body(n_bytes, model_name)
  local head = '{"messages":['
  local tail = '],"model":"' .. model_name .. '","max_tokens":16}'
  local filler = string.rep("lorem ipsum dolor sit amet ", 8)
  local parts, used, i = {}, #head + #tail, 0
  while true do
    local m = string.format('{"role":"%s","content":"%d %s"}',
                            (i % 2 == 0) and "user" or "assistant", i, filler)
    local sep = (i > 0) and 1 or 0
    if used + sep + #m > n_bytes then break end
    if sep == 1 then parts[#parts + 1] = "," end
    parts[#parts + 1] = m
    used = used + sep + #m
    i = i + 1
  end
  -- Pad with JSON whitespace so the body is exactly n_bytes long.
  return head .. table.concat(parts) .. string.rep(" ", n_bytes - used) .. tail
end

wrk.method = "POST"
wrk.path = path
wrk.body = make_body(size, model)
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"

local pace_ms = tonumber(os.getenv("PACE_MS") or "0")
if pace_ms > 0 then
  function delay() return pace_ms end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"body_bytes":%d,"requests":%d,"duration_us":%d,"rps":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"non2xx":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d}\n',
    #wrk.body, summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    e.status, e.connect, e.read, e.write, e.timeout))
end

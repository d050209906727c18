-- wrk script: a small chat-completions POST to infergate-sim (fast mode).
-- Environment: MODEL (default Qwen/Qwen3-0.6B), STREAM ("1" for stream=true).
local model = os.getenv("MODEL") or "Qwen/Qwen3-0.6B"
local stream = os.getenv("STREAM") == "1"
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"Hello, how are you today?"}],' ..
           '"max_tokens":16,"stream":' .. (stream and "true" or "false") .. '}'

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests":%d,"rps":%.0f,"p50_us":%d,"p99_us":%d,"non2xx":%d,' ..
                         '"errors":%d}\n', summary.requests, summary.requests / (summary.duration / 1e6),
                         latency:percentile(50), latency:percentile(99), e.status,
                         e.connect + e.read + e.write + e.timeout))
end

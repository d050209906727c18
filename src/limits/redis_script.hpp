// The lease script, run by Redis (EVALSHA, EVAL when the script cache lost it). It keeps the same
// sliding minute as limits/window.hpp, on Redis's own clock (TIME), so replicas' clocks do not
// matter: a hash per shared limit from unix second to the units granted in it, the last 61
// seconds summed, older fields deleted, the key expiring 62 s after its last use.
//
// KEYS[1]  the limit's hash
// ARGV     limit, want, need, owed, back, back_sec
//          owed: units this replica admitted on debt, recorded even past the limit (the shared
//          count stays true); back: unused units given back to the field of second back_sec.
// Returns  {granted, used (after this call), ms until `need` more could be granted, TIME's second}
#pragma once

namespace infergate::limits::detail {

inline constexpr const char* kLeaseScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1])
local now_ms = now * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local need = tonumber(ARGV[3])
local owed = tonumber(ARGV[4])
local back = tonumber(ARGV[5])
if back > 0 then
  local v = tonumber(redis.call('HGET', KEYS[1], ARGV[6]) or '0') or 0
  if v > 0 then
    redis.call('HINCRBY', KEYS[1], ARGV[6], -math.min(v, back))
  end
end
local h = redis.call('HGETALL', KEYS[1])
local used = 0
local secs = {}
local vals = {}
for i = 1, #h, 2 do
  local s = tonumber(h[i])
  local v = tonumber(h[i + 1]) or 0
  if s == nil or s <= now - 61 or v <= 0 then
    redis.call('HDEL', KEYS[1], h[i])
  else
    used = used + v
    secs[#secs + 1] = s
    vals[s] = v
  end
end
local grant = 0
if used + owed < limit then
  grant = math.min(want, limit - used - owed)
end
local add = grant + owed
if add > 0 then
  redis.call('HINCRBY', KEYS[1], now, add)
  used = used + add
  if vals[now] == nil then
    secs[#secs + 1] = now
    vals[now] = 0
  end
  vals[now] = vals[now] + add
end
redis.call('PEXPIRE', KEYS[1], 62000)
local retry = 0
local missing = used + need - limit
if grant < want and missing > 0 then
  table.sort(secs)
  local acc = 0
  retry = 61000
  for _, s in ipairs(secs) do
    acc = acc + vals[s]
    if acc >= missing then
      retry = (s + 61) * 1000 - now_ms
      break
    end
  end
end
return {grant, used, retry, now}
)lua";

}  // namespace infergate::limits::detail

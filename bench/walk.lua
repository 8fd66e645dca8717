-- wrk script for bench/run.sh: every request carries the next pre-signed
-- Signature-Input/Signature pair from this thread's own list, so no nonce is
-- ever sent twice. A thread stops once it has received as many responses as
-- its list holds, less the slack for requests still in flight, and then ends
-- the whole run with a SIGINT to wrk (wrk's own way to end early; its main
-- thread would otherwise sleep for the whole -d duration). The rate is timed
-- here, from the first request to the last response, on CLOCK_MONOTONIC.
--   env BENCH_LIST   list prefix; thread i reads BENCH_LIST.i
--   env BENCH_PATH   request path (/protected, or /open to send the same
--                    headers where no authentication runs)
--   env BENCH_USER   value of TrustedApp-User
--   env BENCH_SLACK  entries per thread kept back for in-flight requests
--   env BENCH_DELAY_MS  pause (whole ms) each connection makes after every
--                    response before its next request: paces /open and
--                    /protected to about the same request rate (unset: none)
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)   -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local entries, n, next_i, wanted
local path = os.getenv("BENCH_PATH") or "/protected"
local user = os.getenv("BENCH_USER") or "bench-user"

function init(args)
  entries = {}
  local file = os.getenv("BENCH_LIST") .. "." .. id
  for line in io.lines(file) do
    local input, sig = line:match("^([^\t]+)\t([^\t]+)$")
    if input then
      entries[#entries + 1] = { input, sig }
    end
  end
  n = #entries
  next_i = 1
  local slack = tonumber(os.getenv("BENCH_SLACK") or "64")
  wanted = n - slack
  if wanted < 1 then
    error("list " .. file .. " holds " .. n .. " entries, not more than the slack " .. slack)
  end
  responses, non2xx, overrun = 0, 0, 0
  statuses = ""
  finished = false
  t_first, t_last = 0, 0
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms then
  function delay()
    return delay_ms
  end
end

function request()
  if t_first == 0 then
    t_first = now_us()
  end
  local e = entries[next_i]
  if next_i < n then
    next_i = next_i + 1
  else
    overrun = overrun + 1   -- would repeat a nonce; counted and reported
  end
  return wrk.format("GET", path, {
    ["TrustedApp-User"] = user,
    ["Signature-Input"] = e[1],
    ["Signature"] = e[2],
  })
end

function response(status, headers, body)
  if finished then
    return
  end
  responses = responses + 1
  t_last = now_us()
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if non2xx <= 3 then
      statuses = statuses .. status .. ":" .. (headers["TrustedApp-Error"] or "-") .. ","
    end
  end
  if responses >= wanted then
    finished = true
    wrk.thread:stop()
    -- system() ignores SIGINT in wrk while the shell runs: deliver it later
    -- (and only to wrk: $PPID is checked to still be this wrk process)
    os.execute("(sleep 0.2; [ \"$(cat /proc/$PPID/comm 2>/dev/null)\" = wrk ] && kill -INT $PPID) >/dev/null 2>&1 &")
  end
end

function done(summary, latency, requests)
  local total, bad, over, samples = 0, 0, 0, ""
  local first, last = nil, 0
  for _, t in ipairs(threads) do
    local f = t:get("t_first")
    if f > 0 and (first == nil or f < first) then first = f end
    if t:get("t_last") > last then last = t:get("t_last") end
    total = total + t:get("responses")
    bad = bad + t:get("non2xx")
    over = over + t:get("overrun")
    samples = samples .. t:get("statuses")
  end
  local seconds = (first and last > first) and (last - first) / 1e6 or summary.duration / 1e6
  io.write(string.format(
    "BENCH responses=%d seconds=%.3f rps=%.1f non2xx=%d overrun=%d errors=%d p50_us=%d p99_us=%d samples=%s\n",
    total, seconds, total / seconds, bad, over,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), samples == "" and "-" or samples:gsub(",$", "")))
end

-- bench/gateway.lua - the request of bench/gateway.sh for wrk.
--
--   GW_TOKEN=... GW_BODY='{...}' wrk -s bench/gateway.lua --latency -t T -c C -d S URL
--
-- Every connection POSTs GW_BODY to URL's path with `Authorization: Bearer
-- GW_TOKEN` and `Content-Type: application/json`, again as soon as the answer
-- is complete (an event stream counts when its last chunk arrived). At the end
-- one JSON line (prefix "json ") has what the script reads: requests, errors
-- (non-2xx answers, connect/read/write errors, timeouts), seconds, requests/s
-- and the latency percentiles in ms (wrk keeps them exact to the microsecond).
--
-- GW_HEADERS_FILE: more headers, one "Name: value" a line (bench/gateway_sign.mjs
-- writes a SigV4 signature's there, sent with GW_TOKEN empty).

local token = os.getenv("GW_TOKEN") or ""
local body = os.getenv("GW_BODY") or "{}"
local think = tonumber(os.getenv("GW_DELAY_MS") or "0")

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "*/*"
local extra = os.getenv("GW_HEADERS_FILE") or ""
if extra ~= "" then
  for line in io.lines(extra) do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then wrk.headers[k] = v end
  end
end
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- GW_DELAY_MS: each connection waits a random 0 .. 2 x GW_DELAY_MS ms (mean
-- GW_DELAY_MS) after an answer before its next request: a bounded rate with
-- the arrivals spread out rather than in waves of every connection at once.
-- wrk's latency starts when the request is written, so the wait is not in it.
if think > 0 then
  function init(args) -- per wrk thread: a seed of its own
    math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 1000003)
  end
  function delay() return math.random(0, 2 * think) end
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local secs = summary.duration / 1e6
  local function ms(p) return latency:percentile(p) / 1000 end
  io.write(string.format(
    'json {"requests": %d, "errors": %d, "status_errors": %d, "timeouts": %d, "seconds": %.3f, ' ..
    '"rps": %.1f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, errors, e.status, e.timeout, secs, summary.requests / secs,
    ms(50), ms(90), ms(99), latency.max / 1000))
end

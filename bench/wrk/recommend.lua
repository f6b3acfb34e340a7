-- POST /v1/recommend from many wrk threads.
-- mode "miss": every request is a new query (a unique suffix), so every request goes upstream.
-- mode "hit":  requests cycle through a few queries that the bench warmed beforehand.
-- Prints one JSON line with exact percentiles (microseconds) when done.
local queries = {
  "warm down jacket for winter", "我想买一款适合冬天穿的羽绒服", "gaming laptop", "noise cancelling headphones",
  "20000mAh power bank", "跑步鞋", "coffee machine", "防晒霜", "rain jacket", "龙井茶",
}
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "miss"
  salt = args[2] or ""  -- differs per run, so a new run's queries were never asked before
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local q = queries[(counter % #queries) + 1]
  if mode == "miss" then
    q = q .. " " .. salt .. tid .. "x" .. counter
  end
  return wrk.format(nil, "/v1/recommend", nil, '{"query": "' .. q .. '", "k": 5}')
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

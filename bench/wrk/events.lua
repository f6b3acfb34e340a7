-- POST /v1/events from many wrk threads: batches of `size` events (args[1], default 100), every event_id new,
-- shoppers and products cycling so the store's per-shopper keys see realistic fan-out.
-- Prints one JSON line with exact percentiles (microseconds) when done.
local threads = {}
local counter = 0
local products = {
  "SG-OUT-0001", "SG-OUT-0002", "SG-OUT-0003", "SG-OUT-0004", "SG-OUT-0005", "SG-OUT-0007", "SG-OUT-0008",
  "SG-OUT-0009", "SG-OUT-0011", "SG-OUT-0012",
}
local types = { "view", "view", "view", "click", "click", "add_to_cart", "purchase", "dismiss" }

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  size = tonumber(args[1] or "100")
  salt = args[2] or ""
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local parts = {}
  for i = 1, size do
    local n = counter * size + i
    parts[i] = string.format(
      '{"event_id": "%s-%d-%d", "type": "%s", "user_id": "shopper-%d", "product_id": "%s", "session_id": "s-%d"}',
      salt, tid, n, types[(n % #types) + 1], (n * 7919) % 5000, products[(n % #products) + 1], n % 977)
  end
  return wrk.format(nil, "/v1/events", nil, '{"events": [' .. table.concat(parts, ",") .. "]}")
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

-- POST a chat-completions request straight at the scripted upstream, to measure the upstream's own
-- overhead at the same concurrency: a short one (the floor app's size), or the body in the file named
-- by the first script argument (what shopguide sends, captured by bench/service.py).
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"model": "bench", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "<candidates>\\n{\\"id\\": \\"A\\", \\"title\\": \\"t\\"}\\n</candidates>\\nChoose the 1 best"}]}'
  if args[1] then
    local f = assert(io.open(args[1], "rb"))
    wrk.body = f:read("*a")
    f:close()
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

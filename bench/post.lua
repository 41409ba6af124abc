-- wrk script of bench/serve.py: the same POST body on every request, and one JSON line of
-- results at the end.
--
--   wrk -t1 -c16 -d10s -s bench/post.lua http://127.0.0.1:PORT/PATH -- BODY_FILE ["Name: value" ...]
--
-- BODY_FILE holds the request body; each further argument is one request header.
-- Content-Type defaults to application/json.

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
  for i = 2, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    if name then
      wrk.headers[name] = value
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %.1f, "p99_us": %.1f, "mean_us": %.1f, ' ..
    '"max_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50.0), latency:percentile(99.0), latency.mean, latency.max))
end

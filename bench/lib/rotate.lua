-- wrk script: GET <path> with one handle after another, from a file of header sets.
-- Usage: wrk -t<threads> ... -s rotate.lua <url> -- <handles file> <path> <threads>
-- Each line of the file is one request's headers, "Name: value" pairs separated by tabs.
-- Every thread pre-formats its requests and starts at its own place in the file.
-- done() prints one line "RESULT {json}" with the counts and latency percentiles (us).

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

local requests = {}
local n = 0
local i = 0

function init(args)
  local file, path, threads = args[1], args[2], tonumber(args[3]) or 1
  for line in io.lines(file) do
    local headers = {}
    for pair in string.gmatch(line, "[^\t]+") do
      local name, value = string.match(pair, "^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
    end
    n = n + 1
    requests[n] = wrk.format("GET", path, headers)
  end
  if n == 0 then error("no handles in " .. file) end
  i = math.floor((id - 1) * n / threads) % n
end

function request()
  i = i % n + 1
  return requests[i]
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

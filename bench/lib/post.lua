-- wrk script: POST <path> with one form body after another, from a file.
-- Usage: wrk -t<threads> ... -s post.lua <url> -- <bodies file> <path> <threads>
-- Each line of the file is one request: its headers, two tabs, its urlencoded body;
-- headers as "Name: value" pairs separated by single tabs, then two tabs, then the body.
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
    local head, body = string.match(line, "^(.-)\t\t(.*)$")
    if head then
      local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
      for pair in string.gmatch(head, "[^\t]+") do
        local name, value = string.match(pair, "^([^:]+):%s*(.*)$")
        if name then headers[name] = value end
      end
      n = n + 1
      requests[n] = wrk.format("POST", path, headers, body)
    end
  end
  if n == 0 then error("no request bodies in " .. file) end
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

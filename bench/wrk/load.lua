-- wrk script of the lernmanager benchmark; bench/lib/wrk.ts runs it and reads the JSON line that
-- done() prints. Controlled by environment variables:
--   LMBENCH_MODE        plain  | GET of the URL, no script per request (wrk's fast path)
--                       cookie | GET of the URL with one student's session cookie per connection
--                       write  | like cookie, and every LMBENCH_WRITE_EVERY-th request is
--                              | POST /tasks/<id>/done (ids 1..LMBENCH_TASKS), the rest GET the URL
--   LMBENCH_COOKIES     file with one `session=...` cookie per line (cookie and write modes)
-- The driver runs cookie and write modes with one connection per wrk thread, so "per thread" below
-- means "per connection": connection n is student ((n - 1) mod #cookies) + 1 for the whole run.

local mode = os.getenv("LMBENCH_MODE") or "plain"

if mode ~= "plain" then
   local cookies = {}
   for line in io.lines(os.getenv("LMBENCH_COOKIES")) do
      if line ~= "" then cookies[#cookies + 1] = line end
   end
   local write_every = tonumber(os.getenv("LMBENCH_WRITE_EVERY") or "4")
   local tasks = tonumber(os.getenv("LMBENCH_TASKS") or "12")
   local threads = 0

   -- Runs in the main Lua state, once per thread, before any request.
   function setup(thread)
      threads = threads + 1
      thread:set("thread_no", threads)
      thread:set("cookie", cookies[((threads - 1) % #cookies) + 1])
   end

   local read_request, post_headers
   local counter = 0

   function init(args)
      local headers = {}
      for k, v in pairs(wrk.headers) do headers[k] = v end
      headers["Cookie"] = cookie
      read_request = wrk.format("GET", wrk.path, headers)
      post_headers = {}
      for k, v in pairs(headers) do post_headers[k] = v end
      post_headers["Content-Type"] = "application/x-www-form-urlencoded"
   end

   function request()
      counter = counter + 1
      if mode == "write" and counter % write_every == 1 then
         local task = (math.floor(counter / write_every) % tasks) + 1
         local body = "write_id=bench-" .. thread_no .. "-" .. counter
         return wrk.format("POST", "/tasks/" .. task .. "/done", post_headers, body)
      end
      return read_request
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'LMBENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end

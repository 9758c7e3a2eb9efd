-- wrk script of the lernmanager benchmark; bench/lib/wrk.ts runs it and reads the JSON line that
-- done() prints. Controlled by environment variables:
--   LMBENCH_MODE        plain  | GET of the URL, no script per request (wrk's fast path)
--                       cookie | GET of the URL with one student's session cookie per connection
--                       write  | like cookie, and every LMBENCH_WRITE_EVERY-th request is
--                              | POST /tasks/<id>/done (ids 1..LMBENCH_TASKS), the rest GET the URL
--   LMBENCH_COOKIES     file with one `session=...` cookie per line, a tab and the session's CSRF
--                       token after it (cookie and write modes; writes send it as X-CSRFToken)
--   LMBENCH_ORIGIN      scheme://host:port of the target: the Referer of the writes (the app's CSRF
--                       check wants a same-origin Referer over HTTPS)
-- In cookie and write modes every answer but 200 is counted as not_ok (wrk itself counts only
-- statuses of 400 and more): the app answers its errors, a refused CSRF check among them, with a
-- 302 to / or the Referer.
-- The driver runs cookie and write modes with one connection per wrk thread, so "per thread" below
-- means "per connection": connection n is student ((n - 1) mod #cookies) + 1 for the whole run.

local mode = os.getenv("LMBENCH_MODE") or "plain"

if mode ~= "plain" then
   local cookies, tokens = {}, {}
   for line in io.lines(os.getenv("LMBENCH_COOKIES")) do
      if line ~= "" then
         local c, t = line:match("^([^\t]*)\t?(.*)$")
         cookies[#cookies + 1] = c
         tokens[#tokens + 1] = t
      end
   end
   local origin = os.getenv("LMBENCH_ORIGIN") or ""
   local all_threads = {}
   local write_every = tonumber(os.getenv("LMBENCH_WRITE_EVERY") or "4")
   local tasks = tonumber(os.getenv("LMBENCH_TASKS") or "12")
   local threads = 0

   -- Runs in the main Lua state, once per thread, before any request.
   function setup(thread)
      threads = threads + 1
      thread:set("thread_no", threads)
      thread:set("cookie", cookies[((threads - 1) % #cookies) + 1])
      thread:set("token", tokens[((threads - 1) % #cookies) + 1])
      thread:set("not_ok", 0)
      all_threads[#all_threads + 1] = thread
   end

   -- Per thread: answers that are not 200 but below 400 (wrk counts 400 and more itself).
   function response(status, headers, body)
      if status ~= 200 and status < 400 then not_ok = not_ok + 1 end
   end

   function count_not_ok()
      local n = 0
      for _, t in ipairs(all_threads) do n = n + (t:get("not_ok") or 0) end
      return n
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
      post_headers["X-CSRFToken"] = token
      post_headers["Referer"] = origin .. "/dashboard"
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
   local not_ok = count_not_ok and count_not_ok() or 0
   io.write(string.format(
      'LMBENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"not_ok":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, not_ok, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end

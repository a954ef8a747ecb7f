-- The web tests' server: HTTP(S) and WebSocket on one port.
--   web_server [http|https]  -> logs "LISTEN <port>"
-- Routes: GET /hello, POST /echo, GET /page (the browser page), GET
-- /counters, GET /stream (a chunked body), and WebSocket upgrades on /ws
-- (an echo; "counters" answers with the websocket counters).
local skynet = require "skynet"
local socket = require "skynet.socket"
local httpd = require "http.httpd"
local sockethelper = require "http.sockethelper"
local urllib = require "http.url"
local websocket = require "http.websocket"

local mode, protocol = ...
protocol = protocol or skynet.getenv "web_protocol" or "http"

local PAGE = [[<!doctype html>
<html><head><title>skyhold</title></head>
<body><p id="status">waiting</p>
<script>
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
ws.onopen = () => ws.send("hello from chromium");
ws.onmessage = (ev) => {
  document.getElementById("status").textContent = "echo: " + ev.data;
  ws.close(1000, "done");
};
ws.onerror = () => { document.getElementById("status").textContent = "websocket error"; };
</script></body></html>
]]

local function counters_text(t)
	local keys = {}
	for k in pairs(t) do
		keys[#keys + 1] = k
	end
	table.sort(keys)
	local out = {}
	for _, k in ipairs(keys) do
		out[#out + 1] = k .. "=" .. t[k]
	end
	return table.concat(out, " ")
end

local ws_handle = {}
function ws_handle.message(id, msg, op)
	if msg == "counters" then
		websocket.write(id, counters_text(websocket.counters))
		return
	end
	skynet.error("ws message: " .. msg)
	websocket.write(id, msg, op)
end
function ws_handle.close(id, code, reason)
	skynet.error(string.format("ws close %s %s", tostring(code), tostring(reason)))
end

local server_ctx
local function interface(id)
	if protocol == "https" then
		local tls = require "http.tlshelper"
		if not server_ctx then
			server_ctx = tls.newctx()
			server_ctx:set_cert(skynet.getenv "certfile", skynet.getenv "keyfile")
		end
		local ctx = tls.newtls("server", server_ctx)
		return {
			init = tls.init_responsefunc(id, ctx),
			close = tls.closefunc(ctx),
			read = tls.readfunc(id, ctx),
			write = tls.writefunc(id, ctx),
		}
	end
	return { read = sockethelper.readfunc(id), write = sockethelper.writefunc(id) }
end

local function serve(id, addr)
	socket.start(id)
	local io = interface(id)
	if io.init then
		local ok, err = pcall(io.init)
		if not ok then
			skynet.error("tls handshake failed: " .. tostring(err))
			socket.close(id)
			return
		end
	end
	local code, url, method, header, body = httpd.read_request(io.read)
	if not code then
		skynet.error("request failed: " .. tostring(url))
		socket.close(id)
		return
	end
	if code ~= 200 then
		skynet.error("refused with " .. code)
		httpd.write_response(io.write, code)
		socket.close(id)
		return
	end
	local path, query = urllib.parse(url)
	if path == "/ws" and protocol == "http" then
		local ok, err = websocket.accept(id, ws_handle, "ws", addr,
			{ upgrade = { header = header, method = method, url = url } })
		if not ok then
			skynet.error("websocket failed: " .. tostring(err))
		end
		return
	end
	local status, reply, rheader = 200, nil, { ["content-type"] = "text/plain" }
	if path == "/hello" then
		local q = urllib.parse_query(query or "")
		reply = "hello " .. (q.name or "world")
	elseif path == "/echo" and method == "POST" then
		reply = body
	elseif path == "/page" then
		reply = PAGE
		rheader["content-type"] = "text/html"
	elseif path == "/counters" then
		reply = counters_text(httpd.counters)
	elseif path == "/stream" then
		local n = 0
		reply = function()
			n = n + 1
			if n <= 3 then
				return "part" .. n .. ";"
			end
		end
	elseif path == "/browser" then
		skynet.error("browser says: " .. (urllib.parse_query(query or "").said or ""))
		reply = "ok"
	else
		status, reply = 404, "not found"
	end
	local ok, err = httpd.write_response(io.write, status, reply, rheader)
	if not ok then
		skynet.error("write failed: " .. tostring(err))
	end
	socket.close(id)
	if io.close then
		io.close()
	end
end

if mode == "agent" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, id, addr)
			skynet.ignoreret()
			serve(id, addr)
		end)
	end)
else
	skynet.start(function()
		local agents = {}
		for i = 1, 4 do
			agents[i] = skynet.newservice(SERVICE_NAME, "agent", protocol)
		end
		local n = 0
		local id, _, port = socket.listen("127.0.0.1", 0)
		socket.start(id, function(fd, addr)
			n = n % #agents + 1
			skynet.send(agents[n], "lua", fd, addr)
		end)
		skynet.error("LISTEN " .. port)
	end)
end

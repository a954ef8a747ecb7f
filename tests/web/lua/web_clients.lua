-- httpc and the WebSocket client against our own servers, over plain
-- sockets or TLS:  web_clients [plain|tls]
local skynet = require "skynet"
local httpc = require "http.httpc"
local websocket = require "http.websocket"

local tls = skynet.getenv "web_tls" == "true"

local function port_of(service)
	-- the server logs LISTEN; it also answers "port" for us
	return skynet.call(service, "lua", "port")
end

local function check(cond, what)
	if not cond then
		skynet.error("FAIL " .. what)
		error(what)
	end
end

skynet.start(function()
	local web = skynet.newservice("web_server_port", tls and "https" or "http")
	local ws = skynet.newservice("web_server_port", tls and "wss" or "ws")
	local web_port, ws_port = port_of(web), port_of(ws)
	local scheme = tls and "https://" or "http://"
	local host = scheme .. "127.0.0.1:" .. web_port

	httpc.timeout = 500
	local code, body = httpc.get(host, "/hello?name=skyhold")
	check(code == 200 and body == "hello skyhold", "get: " .. code .. " " .. tostring(body))
	local got = {}
	code, body = httpc.request("GET", host, "/hello", got)
	check(code == 200 and got["content-type"] == "text/plain", "recvheader")
	code, body = httpc.post(host, "/echo", { a = "1 2" })
	check(code == 200 and body == "a=1%202", "post: " .. tostring(body))
	code = httpc.head(host, "/hello")
	check(code == 200, "head")
	code, body = httpc.get(host, "/stream")
	check(body == "part1;part2;part3;", "chunked: " .. tostring(body))
	local s = httpc.request_stream("GET", host, "/stream")
	local pieces = {}
	for piece in s do
		if piece ~= "" then
			pieces[#pieces + 1] = piece
		end
	end
	check(s.status == 200 and table.concat(pieces) == "part1;part2;part3;", "stream")
	code = httpc.get(host, "/nowhere")
	check(code == 404, "404")
	local ok, err = pcall(httpc.get, scheme .. "127.0.0.1:1", "/")
	check(not ok, "connect to a closed port fails: " .. tostring(err))

	local proto = tls and "wss" or "ws"
	local id = websocket.connect(proto .. "://127.0.0.1:" .. ws_port .. "/echo")
	for _, msg in ipairs { "hello world!", string.rep("x", 70000), "" } do
		websocket.write(id, msg)
		local back = websocket.read(id)
		check(back == msg, "ws echo of " .. #msg .. " bytes")
	end
	websocket.write(id, "\0\1\2", "binary")
	check(websocket.read(id) == "\0\1\2", "ws binary")
	websocket.ping(id)
	websocket.write(id, "after ping")
	check(websocket.read(id) == "after ping", "ws after ping")
	websocket.close(id, 1000, "bye")
	check(websocket.is_close(id), "ws closed")
	skynet.error("PASS web clients " .. (tls and "tls" or "plain"))
end)

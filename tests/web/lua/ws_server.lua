-- A WebSocket echo server as skynet's simplewebsocket example is written:
--   ws_server [ws|wss]  -> logs "LISTEN <port>"
local skynet = require "skynet"
local socket = require "skynet.socket"
local websocket = require "http.websocket"

local mode, protocol = ...
protocol = protocol or skynet.getenv "web_protocol" or "ws"

local handle = {}
function handle.handshake(id, header, url)
	skynet.error("ws handshake " .. url)
end
function handle.message(id, msg, op)
	if msg == "counters" then
		local parts = {}
		for k, v in pairs(websocket.counters) do
			parts[#parts + 1] = k .. "=" .. v
		end
		table.sort(parts)
		websocket.write(id, table.concat(parts, " "))
		return
	end
	websocket.write(id, msg, op)
end
function handle.ping(id)
	skynet.error("ws ping " .. id)
end
function handle.close(id, code, reason)
	skynet.error(string.format("ws close %s %s", tostring(code), tostring(reason)))
end
function handle.error(id)
	skynet.error("ws error " .. id)
end

if mode == "agent" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, id, addr)
			skynet.ignoreret()
			local ok, err = websocket.accept(id, handle, protocol, addr)
			if not ok then
				skynet.error("ws accept failed: " .. tostring(err))
			end
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

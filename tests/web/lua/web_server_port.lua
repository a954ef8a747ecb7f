-- Starts web_server or ws_server as a child and answers "port" with the
-- port it listens on (for web_clients).
local skynet = require "skynet"
local socket = require "skynet.socket"

local protocol = ...
local port

skynet.start(function()
	-- Listen here and hand connections to the real server's agents.
	local http = protocol == "http" or protocol == "https"
	local agents = {}
	for i = 1, 2 do
		agents[i] = skynet.newservice(http and "web_server" or "ws_server", "agent", protocol)
	end
	local n = 0
	local id, _, p = socket.listen("127.0.0.1", 0)
	port = p
	socket.start(id, function(fd, addr)
		n = n % #agents + 1
		skynet.send(agents[n], "lua", fd, addr)
	end)
	skynet.dispatch("lua", function()
		skynet.ret(skynet.pack(port))
	end)
end)

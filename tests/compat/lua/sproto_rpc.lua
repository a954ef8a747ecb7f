-- skynet's examples/agent.lua and examples/client.lua, over skyhold's gate:
-- the watchdog saves the schemas in slots 1 and 2 (as protoloader does),
-- an agent per connection loads them and answers handshake/get/set/quit
-- with sproto host/attach and pushes heartbeats, and a client service
-- speaks the same bytes skynet's client sends (checked against skynet's
-- own output).
local skynet = require "skynet"
local socket = require "skynet.socket"
local sproto = require "sproto"
local sprotoloader = require "sprotoloader"

local mode, arg = ...

local function hex(s)
	return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

if mode == "agent" then
	local watchdog, client_fd, host, send_request
	local REQUEST = {}

	function REQUEST:handshake()
		return { msg = "Welcome to skynet, I will send heartbeat every 5 sec." }
	end

	function REQUEST:get()
		return { result = skynet.call(watchdog, "lua", "get", self.what) }
	end

	function REQUEST:set()
		skynet.call(watchdog, "lua", "set", self.what, self.value)
	end

	function REQUEST:quit()
		skynet.call(watchdog, "lua", "close", client_fd)
	end

	local function send_package(pack)
		socket.write(client_fd, string.pack(">s2", pack))
	end

	skynet.register_protocol {
		name = "client",
		id = skynet.PTYPE_CLIENT,
		unpack = function(msg, sz)
			return host:dispatch(msg, sz)
		end,
		dispatch = function(fd, _, kind, name, args, response)
			assert(fd == client_fd)
			skynet.ignoreret()
			assert(kind == "REQUEST", "the client sends only requests")
			local r = assert(REQUEST[name], name)(args)
			if response then
				send_package(response(r))
			end
		end,
	}

	local CMD = {}
	function CMD.start(conf)
		watchdog = conf.watchdog
		host = sprotoloader.load(1):host "package"
		send_request = host:attach(sprotoloader.load(2))
		client_fd = conf.client
		skynet.fork(function()
			while true do
				send_package(send_request "heartbeat")
				skynet.sleep(10)
			end
		end)
		skynet.call(conf.gate, "lua", "forward", client_fd)
	end

	function CMD.disconnect()
		skynet.exit()
	end

	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd, ...)
			skynet.ret(skynet.pack(CMD[cmd](...)))
		end)
	end)
elseif mode == "client" then
	local proto = require "sproto_proto"
	skynet.start(function()
		local id = assert(socket.open("127.0.0.1", tonumber(arg)))
		local host = sproto.new(proto.s2c):host "package"
		local request = host:attach(sproto.new(proto.c2s))
		local function send(name, args, session)
			local pack = request(name, args, session)
			socket.write(id, string.pack(">s2", pack))
			return pack
		end
		local function recv()
			local h = socket.read(id, 2)
			if not h then
				return nil
			end
			return socket.read(id, string.unpack(">I2", h))
		end
		local heartbeats = 0
		local function response(session)
			while true do
				local pack = assert(recv(), "connection closed early")
				local kind, a, b = host:dispatch(pack)
				if kind == "REQUEST" then
					assert(a == "heartbeat" and hex(pack) == "050104", "a heartbeat as skynet packs it")
					heartbeats = heartbeats + 1
				else
					assert(kind == "RESPONSE" and a == session, "response " .. tostring(a) .. " for " .. session)
					return b, pack
				end
			end
		end
		-- The bytes skynet's examples/client.lua sends for these requests.
		assert(hex(send("handshake", nil, 1)) == "15020404")
		assert(hex(send("set", { what = "hello", value = "world" }, 2)) == "550208060210053f68656c6c6f053e776f726c64")
		local r = response(1)
		assert(r.msg:find "Welcome to skynet")
		assert(response(2) == nil, "set has no response content")
		assert(hex(send("get", { what = "hello" }, 3)) == "5502060801c4056865076c6c6f")
		local got, pack = response(3)
		assert(got.result == "world")
		-- What skynet's agent sends back for it.
		assert(hex(pack) == "5502010801c405776f07726c64", hex(pack))
		while heartbeats == 0 do
			local kind, name = host:dispatch(assert(recv(), "connection closed early"))
			assert(kind == "REQUEST" and name == "heartbeat")
			heartbeats = heartbeats + 1
		end
		send("quit", nil, 4)
		-- The agent has the gate kick the connection: read to the end.
		while recv() do
		end
		skynet.error("PASS sproto rpc, heartbeats " .. heartbeats)
	end)
else
	local proto = require "sproto_proto"
	skynet.start(function()
		-- As examples/protoloader.lua: the schemas go in slots 1 and 2.
		sprotoloader.save(proto.c2s, 1)
		sprotoloader.save(proto.s2c, 2)
		local ok, e = pcall(sprotoloader.save, proto.s2c, 1)
		assert(not ok and e:find("slot 1", 1, true), "slots are written once")

		local db, agents, gate = {}, {}, nil
		skynet.dispatch("lua", function(_, _, cmd, sub, ...)
			if cmd == "socket" then
				if sub == "open" then
					local fd = ...
					local agent = skynet.newservice("sproto_rpc", "agent")
					agents[fd] = agent
					skynet.call(agent, "lua", "start", { gate = gate, client = fd, watchdog = skynet.self() })
				elseif sub == "close" or sub == "error" then
					local fd = ...
					local agent = agents[fd]
					agents[fd] = nil
					if agent then
						skynet.send(agent, "lua", "disconnect")
					end
				end
			elseif cmd == "get" then
				skynet.ret(skynet.pack(db[sub]))
			elseif cmd == "set" then
				db[sub] = ...
				skynet.ret(skynet.pack())
			elseif cmd == "close" then
				skynet.call(gate, "lua", "kick", sub)
				skynet.ret(skynet.pack())
			end
		end)
		gate = skynet.newservice("gate")
		local _, port = skynet.call(gate, "lua", "open", {
			address = "127.0.0.1", port = 0, watchdog = skynet.self(), maxclient = 8,
		})
		skynet.newservice("sproto_rpc", "client", port)
	end)
end

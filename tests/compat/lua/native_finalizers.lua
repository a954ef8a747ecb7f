-- Finalizers and the native modules' Rust functions. A victim service
-- makes objects whose __gc call the functions of a cjson.new() instance,
-- lets both become garbage together, and collects; and gives __gc to
-- tables cjson and pb set metatables on from Rust (cjson.array_mt, pb's
-- default metatable), then exits: those finalizers run before the state
-- closes, while what they call is alive, and the node goes on.
local skynet = require "skynet"

local mode, boss = ...

if mode == "victim" then
	local cjson = require "cjson"
	local pb = require "pb"
	local protoc = require "protoc"
	boss = tonumber(boss)
	skynet.start(function()
		-- 1. an instance's functions outlive every object that may call them
		local ran = 0
		local function round()
			-- the object is older than the instance; both are garbage once
			-- this function returns
			local box = {}
			setmetatable({}, {
				__gc = function()
					ran = ran + (box.j.encode({ 1, 2 }) == "[1,2]" and 1 or 0)
				end,
			})
			box.j = cjson.new()
		end
		for _ = 1, 20 do
			round()
			collectgarbage()
			collectgarbage()
		end
		skynet.error("native_finalizers instance finalizers ran " .. ran)

		-- 2. __gc put on the metatables cjson and pb set from Rust
		cjson.decode_array_with_array_mt(true)
		cjson.array_mt.__gc = function()
			skynet.error("native_finalizers cjson array finalized")
		end
		KEEP = { cjson.decode "[1, 2, 3]" }
		assert(protoc:load('syntax = "proto3"; message M { int32 x = 1; }', "m.proto"))
		pb.option "use_default_metatable"
		local first = pb.decode("M", "")
		getmetatable(first).__gc = function()
			skynet.error("native_finalizers pb message finalized")
		end
		KEEP[2] = pb.decode("M", "\8\1")
		skynet.dispatch("lua", function()
			skynet.ret(skynet.pack("exiting"))
			skynet.exit()
		end)
	end)
else
	skynet.start(function()
		for round = 1, 3 do
			local v = skynet.newservice("native_finalizers", "victim", skynet.self())
			assert(skynet.call(v, "lua", "exit") == "exiting")
			skynet.error("native_finalizers round " .. round .. " exited")
		end
		skynet.sleep(20)
		local v = skynet.newservice("native_finalizers", "victim", skynet.self())
		assert(skynet.call(v, "lua", "exit") == "exiting")
		skynet.sleep(10)
		skynet.error("native_finalizers PASS")
	end)
end

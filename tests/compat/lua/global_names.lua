-- Calls and sends to a global name no service has yet wait until one
-- registers it (skynet's harbor holds them); `debug TERM` a service sends
-- about such a name ends its own waiting call; harbor.queryname waits too;
-- harbor.link answers at once and harbor.connect says it cannot.
local skynet = require "skynet"
local harbor = require "skynet.harbor"
require "skynet.manager"

local mode = ...

if mode == "later" then
	local got = {}
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd, v)
			if cmd == "note" then
				got[#got + 1] = v
			elseif cmd == "echo" then
				skynet.retpack("echo " .. v)
			elseif cmd == "notes" then
				skynet.retpack(table.concat(got, ","))
			end
		end)
		skynet.sleep(20)
		skynet.register("LATER")
		harbor.globalname("LATER2")
	end)
else
	skynet.start(function()
		local results = {}
		skynet.fork(function()
			results.call = skynet.call("LATER", "lua", "echo", "x")
		end)
		skynet.send("LATER", "lua", "note", "a")
		skynet.send("LATER", "lua", "note", "b")
		skynet.fork(function()
			results.query = harbor.queryname("LATER2")
		end)
		skynet.fork(function()
			results.never = table.pack(pcall(skynet.call, "NEVER", "lua", "x"))
		end)
		skynet.newservice(SERVICE_NAME, "later")
		skynet.sleep(60)
		assert(results.call == "echo x", tostring(results.call))
		assert(results.query == skynet.localname("LATER2"), tostring(results.query))
		assert(skynet.call("LATER", "lua", "notes") == "a,b")
		assert(results.never == nil, "the call to NEVER is still waiting")
		skynet.send(skynet.self(), "debug", "TERM", "NEVER")
		skynet.sleep(5)
		assert(results.never and results.never[1] == false, "TERM ended the call")
		assert(tostring(results.never[2]):find("call failed"), tostring(results.never[2]))
		harbor.link(2)
		skynet.fork(harbor.connect, 2)
		skynet.sleep(5)
		skynet.error("PASS")
	end)
end

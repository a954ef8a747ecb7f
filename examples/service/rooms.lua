-- rooms: one room service per room name, created on first join.
local skynet = require "skynet"

local rooms = {}

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, name)
		assert(cmd == "get")
		local r = rooms[name]
		if not r then
			r = skynet.newservice("room", name)
			rooms[name] = r
		end
		skynet.ret(skynet.pack(r))
	end)
end)

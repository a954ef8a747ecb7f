local skynet = require "skynet"

local mode = ...

if mode == "bomb" then
	local bombs = {}
	local hoard = {}
	function bombs.table_growth()
		local t = {}
		for i = 1, math.huge do t[i] = { i } end
	end
	function bombs.string_rep()
		return string.rep("x", 1 << 30)
	end
	function bombs.concat_loop()
		local s = "x"
		while true do s = s .. s end
	end
	function bombs.inside_pcall()
		local ok, err = pcall(function()
			local t = {}
			for i = 1, math.huge do t[i] = string.rep("y", 1000) .. i end
		end)
		assert(not ok)
		skynet.retpack("caught: " .. tostring(err))
	end
	function bombs.leak_slowly()
		for i = 1, math.huge do hoard[#hoard + 1] = string.rep("z", 4096) .. i end
	end
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, what)
			if what == "ok" then
				hoard = {}
				collectgarbage()
				skynet.ret(skynet.pack("still alive"))
			else
				bombs[what]()
			end
		end)
	end)
else
	skynet.start(function()
		local bomb = skynet.newservice("memory_bomb", "bomb")
		for _, what in ipairs { "table_growth", "string_rep", "concat_loop", "leak_slowly" } do
			local ok, err = pcall(skynet.call, bomb, "lua", what)
			assert(not ok and err:find("call failed"), what .. ": " .. tostring(err))
			assert(skynet.call(bomb, "lua", "ok") == "still alive", what .. ": the service must go on")
			skynet.error("bomb " .. what .. " stopped")
		end
		local r = skynet.call(bomb, "lua", "inside_pcall")
		assert(r:find("not enough memory"), r)
		assert(skynet.call(bomb, "lua", "ok") == "still alive")
		skynet.error("PASS")
	end)
end

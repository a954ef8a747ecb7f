local skynet = require "skynet"

local mode = ...

if mode == "bomb" then
	local bombs = {}
	function bombs.plain() while true do end end
	function bombs.pcall_loop()
		while true do
			pcall(function() while true do end end)
		end
	end
	function bombs.xpcall_loop()
		while true do
			xpcall(function() while true do end end, function(e) return e end)
		end
	end
	function bombs.coroutine_loop()
		local co = coroutine.create(function()
			local inner = coroutine.wrap(function() while true do end end)
			inner()
		end)
		while true do
			coroutine.resume(co)
		end
	end
	function bombs.gsub_callback()
		while true do
			pcall(string.gsub, string.rep("a", 100), "a", function() while true do end end)
		end
	end
	function bombs.pattern()
		return string.find(string.rep("a", 300000), ".-.-.-.-.-.-.-b")
	end
	function bombs.sort()
		local t = {}
		for i = 1, 100 do t[i] = i end
		table.sort(t, function(a, b) while true do end end)
	end
	function bombs.index_metamethod()
		local t = setmetatable({}, { __index = function() while true do end end })
		return t.x
	end
	function bombs.close_handler()
		local guard <close> = setmetatable({}, { __close = function() while true do end end })
		error("leave")
	end
	-- One call whose work grows with its data, in a loop: the VM charges
	-- that work (crates/lua-src-patched/PATCH.md), not one instruction.
	function bombs.huge_insert()
		local t = setmetatable({}, { __len = function() return math.maxinteger - 1 end })
		table.insert(t, 1, 0)
	end
	function bombs.huge_move() return table.move({}, 1, math.maxinteger - 1, 2) end
	function bombs.collect_loop()
		local t = {}
		for i = 1, 200000 do t[i] = { i } end
		while true do collectgarbage() end
	end
	function bombs.big_concat()
		local s = string.rep("a", 1 << 22)
		while true do local _ = s .. "x" end
	end
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, what)
			if what == "ok" then
				skynet.ret(skynet.pack("still alive"))
			else
				bombs[what]()
				skynet.ret(skynet.pack("bomb returned?"))
			end
		end)
	end)
else
	skynet.start(function()
		local bomb = skynet.newservice("cpu_bomb", "bomb")
		for _, what in ipairs { "plain", "pcall_loop", "xpcall_loop", "coroutine_loop", "gsub_callback", "pattern", "sort", "index_metamethod", "close_handler", "huge_insert", "huge_move", "collect_loop", "big_concat" } do
			local t0 = skynet.now()
			local ok, err = pcall(skynet.call, bomb, "lua", what)
			assert(not ok and err:find("call failed"), what .. ": " .. tostring(err))
			skynet.error(string.format("bomb %s stopped after %d cs", what, skynet.now() - t0))
			assert(skynet.call(bomb, "lua", "ok") == "still alive", what .. ": the service must go on")
		end
		skynet.error("PASS")
	end)
end

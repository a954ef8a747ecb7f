-- skynet.sharedata and skynet.sharetable: new/query/update/delete with a
-- table, source text and a data file; a query proxy that follows updates;
-- deepcopy; an update refused to a service that does not own the name; and
-- sharetable's in-place update.
local skynet = require "skynet"
local sharedata = require "skynet.sharedata"
local sharetable = require "skynet.sharetable"

local mode = ...

if mode == "reader" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd)
			if cmd == "read" then
				local cfg = sharedata.query("config")
				skynet.retpack(cfg.level, cfg.items[2], #cfg.items)
			elseif cmd == "tamper" then
				skynet.retpack(pcall(sharedata.update, "config", { level = -1 }))
			end
		end)
	end)
	return
end

skynet.start(function()
	sharedata.new("config", { level = 1, items = { "a", "b" } })
	local cfg = sharedata.query("config")
	assert(cfg.level == 1 and cfg.items[2] == "b" and #cfg.items == 2)
	assert(not pcall(function() cfg.level = 2 end), "the proxy is read-only")
	local reader = skynet.newservice("sharedata", "reader")
	local level, second, n = skynet.call(reader, "lua", "read")
	assert(level == 1 and second == "b" and n == 2, "another service reads it")

	sharedata.update("config", { level = 2, items = { "x", "y", "z" } })
	skynet.sleep(5)
	assert(cfg.level == 2 and cfg.items[3] == "z", "the proxy shows the update")
	level, second, n = skynet.call(reader, "lua", "read")
	assert(level == 2 and second == "y" and n == 3, "so does the other service's")
	local ok, err = skynet.call(reader, "lua", "tamper")
	assert(not ok and tostring(err):find("only the service that made it", 1, true), tostring(err))

	local keys = {}
	for k in pairs(cfg) do
		keys[#keys + 1] = k
	end
	table.sort(keys)
	assert(table.concat(keys, ",") == "items,level", "pairs over a proxy")
	local plain = sharedata.deepcopy("config", "items")
	assert(type(plain) == "table" and getmetatable(plain) == nil and plain[1] == "x")

	sharedata.new("formula", "rate = 3 return { rate = rate * (...) }", 2)
	assert(sharedata.query("formula").rate == 6, "source text with arguments")
	sharedata.new("items", "@shared_items", 5)
	assert(sharedata.query("items").sword.attack == 15, "a data file")
	assert(not pcall(sharedata.new, "escape", "@../../etc/passwd"), "a file outside the lua_path")
	assert(not pcall(sharedata.new, "code", "return require('skynet')"), "data source cannot require")

	sharedata.delete("formula")
	assert(not pcall(sharedata.query, "formula"), "deleted")

	-- sharetable: each query gives the newest version; update refreshes
	-- the tables a reader got, in place, nested ones included
	sharetable.loadtable("drops", { gold = 1, box = { gem = 1 } })
	local drops = sharetable.query("drops")
	local box = drops.box
	assert(drops.gold == 1 and box.gem == 1)
	sharetable.loadstring("drops", "gold = 7 box = { gem = 2 }")
	assert(drops.gold == 1, "a reader keeps its table until it updates")
	local newest = sharetable.query("drops")
	assert(newest ~= drops and newest.gold == 7, "a query gives the newest version")
	sharetable.update("drops")
	assert(drops.gold == 7 and drops.box == box and box.gem == 2, "updated in place")
	sharetable.loadfile("shared_items", 1)
	assert(sharetable.query("shared_items").sword.attack == 11)
	local all = sharetable.queryall({ "drops", "shared_items", "missing" })
	assert(all.drops.gold == 7 and all.shared_items.shield.defence == 5 and all.missing == nil)
	local every = sharetable.queryall()
	assert(every.drops and every.shared_items, "queryall() gives every loaded name")
	skynet.error("PASS")
end)

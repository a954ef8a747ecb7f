-- skynet.datasheet as skynet's testdatasheet uses it: a builder makes and
-- updates a sheet; readers (this service and another) see each update in
-- place, nested tables included. Only the maker may update a sheet.
local skynet = require "skynet"

local mode = ...

if mode == "reader" then
	local datasheet = require "skynet.datasheet"
	local builder = require "skynet.datasheet.builder"
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd)
			if cmd == "read" then
				local t = datasheet.query "items"
				skynet.retpack(t.a, t.b, type(t.c) == "table" and t.c[1] or t.c)
			elseif cmd == "steal" then
				-- another service's sheet: not this one's to update, through
				-- the builder or straight to the service
				local ok1 = pcall(builder.update, "items", { a = 0 })
				local address = require "skynet.datasheet.address"
				local ok2 = pcall(skynet.call, address(), "lua", "update", "items", skynet.packstring({ a = 0 }))
				skynet.retpack(ok1 or ok2)
			end
		end)
	end)
	return
end

local builder = require "skynet.datasheet.builder"
local datasheet = require "skynet.datasheet"

skynet.start(function()
	builder.new("items", { a = 1, b = 2, c = { 3 } })
	local r = skynet.newservice(SERVICE_NAME, "reader")
	local t = datasheet.query "items"
	local c = t.c
	assert(t.a == 1 and t.b == 2 and c[1] == 3)
	local a, b, c1 = skynet.call(r, "lua", "read")
	assert(a == 1 and b == 2 and c1 == 3)

	builder.update("items", { b = 4, c = { 5 } })
	skynet.sleep(10)
	assert(t.a == nil and t.b == 4, "this service's sheet is refreshed")
	assert(t.c == c and c[1] == 5, "a nested table is refreshed in place")
	a, b, c1 = skynet.call(r, "lua", "read")
	assert(a == nil and b == 4 and c1 == 5, "the other reader's too")

	builder.update("items", { a = 6, c = 7 })
	skynet.sleep(10)
	assert(t.a == 6 and t.b == nil and t.c == 7)

	assert(not pcall(datasheet.query, "missing"), "a sheet nobody made")
	assert(not pcall(builder.new, "items", {}), "made once")
	assert(not skynet.call(r, "lua", "steal"), "only the maker updates")
	assert(t.a == 6, "the sheet is as its maker left it")
	skynet.error("PASS")
end)

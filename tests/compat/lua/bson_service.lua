-- bson and the mongo driver as a service requires them.
local skynet = require "skynet"
local bson = require "bson"
local driver = require "skynet.mongo.driver"

skynet.start(function()
	local doc = bson.encode { name = "skyhold", list = { 1, 2, 3 }, id = bson.objectid(), at = bson.date(1700000000) }
	local back = bson.decode(doc)
	assert(back.name == "skyhold" and back.list[3] == 3)
	assert(select(1, bson.type(back.id)) == "objectid")
	assert(select(2, bson.type(back.at)) == 1700000000)
	local msg = driver.op_msg(1, 0, bson.encode_order("ping", 1, "$db", "admin"))
	assert(driver.length(msg:sub(1, 4)) == #msg - 4)
	-- a big document decodes (its work charged, within the budget)
	local big = {}
	for i = 1, 20000 do
		big[i] = { i = i }
	end
	local d = bson.decode(bson.encode { big = big })
	assert(#d.big == 20000 and d.big[20000].i == 20000)
	local ok, err = pcall(bson.encode, { f = print })
	assert(not ok and err == "Invalid value type : function", err)
	skynet.error("PASS bson_service")
end)

-- cjson inside skyhold services: a JSON API service answers requests
-- that arrive as JSON text, a client checks the answers, the errors (with
-- lua-cjson's words and the caller's position), cjson.safe, independent
-- instances, and that a hostile document is refused without harm.
local skynet = require "skynet"
local cjson = require "cjson"

local mode = ...

if mode == "api" then
	skynet.start(function()
		local store = {}
		skynet.dispatch("lua", function(_, _, text)
			local req = cjson.decode(text)
			local reply
			if req.op == "put" then
				store[req.key] = req.value
				reply = { ok = true }
			elseif req.op == "get" then
				reply = { value = store[req.key] or cjson.null }
			else
				reply = { error = "unknown op " .. tostring(req.op) }
			end
			skynet.ret(skynet.pack(cjson.encode(reply)))
		end)
	end)
else
	skynet.start(function()
		assert(cjson._NAME == "cjson" and cjson._VERSION == "2.1.0.11")
		local api = skynet.newservice("cjson_service", "api")
		local function call(t)
			return cjson.decode(skynet.call(api, "lua", cjson.encode(t)))
		end
		assert(call({ op = "put", key = "k", value = { 1, 2.5, "x/y", { a = true } } }).ok == true)
		local got = call({ op = "get", key = "k" }).value
		assert(got[1] == 1 and math.type(got[1]) == "integer")
		assert(got[2] == 2.5 and got[3] == "x/y" and got[4].a == true)
		assert(call({ op = "get", key = "missing" }).value == cjson.null)
		assert(call({ op = "nope" }).error == "unknown op nope")

		-- Exact text, as lua-cjson writes it.
		assert(cjson.encode({ 1, 2, 3.5, "a/b", { x = 1e300 } }) == '[1,2,3.5,"a\\/b",{"x":1e+300}]')
		assert(cjson.encode(2 ^ 53) == "9.007199254741e+15")
		assert(cjson.encode(1 << 53) == "9007199254740992")
		assert(cjson.encode({ [3] = "x" }) == '[null,null,"x"]')

		-- Errors: lua-cjson's words, with the caller's position.
		local ok, err = pcall(function() local v = cjson.decode("[1,]") return v end)
		assert(not ok and err:match("cjson_service.lua:%d+: Expected value but found T_ARR_END at character 4$"), err)
		ok, err = pcall(cjson.encode, { [100] = 1 })
		assert(not ok and err == "Cannot serialise table: excessively sparse array", err)
		ok, err = pcall(cjson.decode, string.rep("[", 2000))
		assert(not ok and err == "Found too many nested data structures (1001) at character 1001", err)

		-- cjson.safe returns the error.
		local safe = require "cjson.safe"
		local v, msg = safe.decode("Oops")
		assert(v == nil and msg == "Expected value but found invalid token at character 1", msg)

		-- Instances keep their own settings.
		local j = cjson.new()
		j.encode_number_precision(3)
		assert(j.encode(1 / 3) == "0.333" and cjson.encode(1 / 3) == "0.33333333333333")

		-- A long document decodes within the budget.
		local big = {}
		for i = 1, 10000 do big[i] = { id = i } end
		local back = cjson.decode(cjson.encode(big))
		assert(#back == 10000 and back[10000].id == 10000)

		skynet.error("PASS")
	end)
end

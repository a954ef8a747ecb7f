-- snax: newservice with init, post and req, an unknown method, errors in a
-- method, uniqueservice/queryservice, hotfix (functions replaced, upvalues
-- state) and kill with exit.
local skynet = require "skynet"
local snax = require "skynet.snax"

skynet.start(function()
	local obj = snax.newservice("snax_counter", 10)
	assert(obj.req.get() == 10, "init ran with its argument")
	obj.post.add(5)
	assert(obj.req.get() == 15, "post then req, in order")
	local a, b, c = obj.req.echo(1, "two", { 3 })
	assert(a == 1 and b == "two" and c[1] == 3, "req returns values")

	local ok, err = pcall(function() return obj.req.nosuch() end)
	assert(not ok and err:find("request snax_counter:nosuch no exist", 1, true), tostring(err))
	ok, err = pcall(function() obj.post.nosuch() end)
	assert(not ok and err:find("post snax_counter:nosuch no exist", 1, true), tostring(err))
	assert(not pcall(obj.req.fail), "an error in a method fails the call")
	assert(obj.req.get() == 15, "the service survives a failed method")

	-- hotfix: new code replaces a method; the others keep their state. (A
	-- patch's locals are its own: skyhold has no debug library to join
	-- them to the service's, so shared state lives in globals.)
	snax.hotfix(obj, [[
		function response.get()
			return "patched", hits
		end
		function hotfix(x)
			hits = x
			return "hotfix ran"
		end
	]], 7)
	local got, hits = obj.req.get()
	assert(got == "patched" and hits == 7, "hotfixed get: " .. tostring(got) .. " " .. tostring(hits))
	obj.post.add(1)
	local a2 = obj.req.echo("still")
	assert(a2 == "still", "untouched methods still work")
	ok, err = pcall(snax.hotfix, obj, "function response.nosuch() end")
	assert(not ok and tostring(err):find("Patch mismatch", 1, true), tostring(err))

	-- unique services: one instance per name
	local u1 = snax.uniqueservice("snax_counter", 1)
	local u2 = snax.uniqueservice("snax_counter", 2)
	assert(u1.handle == u2.handle, "uniqueservice gives the same service")
	local q = snax.queryservice("snax_counter")
	assert(q.handle == u1.handle, "queryservice finds it")
	assert(u1.req.get() == 1, "unique init ran once")

	-- bind: an object for a handle we already know
	local bound = snax.bind(obj.handle, "snax_counter")
	assert(bound.req.get() == "patched")

	snax.kill(obj)
	skynet.sleep(10)
	assert(not pcall(obj.req.get), "a killed snax service does not answer")
	skynet.error("PASS")
end)

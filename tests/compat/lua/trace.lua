-- skynet.trace: a traced request's calls carry its tag to the callee, whose
-- task is traced under the same tag; untraced calls carry nothing.
local skynet = require "skynet"

local mode = ...

if mode == "callee" then
	skynet.start(function()
		skynet.dispatch("lua", function(_, _, cmd)
			if cmd == "tag" then
				skynet.retpack(skynet.tracetag() or false)
			end
		end)
	end)
else
	skynet.start(function()
		local callee = skynet.newservice("trace", "callee")
		assert(skynet.tracetag() == nil, "no tag before trace")
		assert(skynet.call(callee, "lua", "tag") == false, "untraced call carried a tag")
		local tag = skynet.trace("compat")
		assert(type(tag) == "string" and tag:find("^:%x%x%x%x%x%x%x%x%-%d+$"), tostring(tag))
		assert(skynet.tracetag() == tag, "tracetag")
		assert(skynet.call(callee, "lua", "tag") == tag, "the callee did not get the tag")
		skynet.tracelog(tag, "checked")
		-- A forked task is not traced: tags belong to one task.
		local seen
		skynet.fork(function() seen = skynet.tracetag() or false end)
		skynet.sleep(1)
		assert(seen == false, "fork inherited a tag")
		skynet.error("PASS trace " .. tag)
	end)
end

-- A handler that returns without answering a call: the runtime logs
-- skynet's "Maybe forgot response" line, naming where the handler was
-- defined (source:line), and the caller keeps waiting, as in skynet.
local skynet = require "skynet"

local mode = ...

if mode == "forgetful" then
	skynet.start(function()
		skynet.dispatch("lua", function() end) -- line 10: no skynet.ret
	end)
	return
end

skynet.start(function()
	local s = skynet.newservice(SERVICE_NAME, "forgetful")
	local answered = false
	skynet.fork(function()
		skynet.call(s, "lua", "hello")
		answered = true
	end)
	skynet.sleep(20)
	assert(not answered, "a forgotten response leaves the caller waiting")
	skynet.error("PASS")
end)

-- A snax service used by the snax case (not a case itself).
local skynet = require "skynet"

local count = 0
local step = 1

function init(start)
	count = start or 0
end

function exit()
	skynet.error("snax_counter exit at " .. count)
end

function accept.add(n)
	count = count + n * step
end

function response.get()
	return count
end

function response.echo(...)
	return ...
end

function response.fail()
	error("counter failed on purpose")
end

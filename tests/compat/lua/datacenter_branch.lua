-- skynet's testdatacenter pattern: a waiter on a key that is then set as a
-- branch (a value set below it) gets an error, not the value; a wait on a
-- key already set returns at once.
local skynet = require "skynet"
local datacenter = require "skynet.datacenter"

skynet.start(function()
	datacenter.set("hello", "world")
	assert(datacenter.get("hello") == "world")
	assert(datacenter.wait("hello") == "world")

	local outcome
	skynet.fork(function()
		outcome = table.pack(pcall(datacenter.wait, "key"))
	end)
	skynet.sleep(1)
	datacenter.set("key", "foobar", "bingo")
	for _ = 1, 100 do
		if outcome then
			break
		end
		skynet.sleep(1)
	end
	assert(outcome, "the waiter on key was never answered")
	assert(outcome[1] == false, "the waiter on key got " .. tostring(outcome[2]))
	assert(tostring(outcome[2]):find("call failed", 1, true), tostring(outcome[2]))
	assert(datacenter.wait("key", "foobar") == "bingo")

	-- Deeper: a waiter on a.b, then a.b.c is set.
	local deep
	skynet.fork(function()
		deep = table.pack(pcall(datacenter.wait, "a", "b"))
	end)
	skynet.sleep(1)
	datacenter.set("a", "b", "c", 1)
	for _ = 1, 100 do
		if deep then
			break
		end
		skynet.sleep(1)
	end
	assert(deep and deep[1] == false, "the waiter on a.b got " .. tostring(deep and deep[2]))
	skynet.error("PASS")
end)

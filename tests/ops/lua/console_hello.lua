-- A service the stdin console starts by name: says its arguments. It may
-- not read stdin itself.
local skynet = require "skynet"

local args = table.concat({ ... }, " ")

skynet.start(function()
	local ok, err = pcall(require, "skyhold.stdin")
	skynet.error("HELLO " .. args .. (ok and " (and it reads stdin!)" or " (no stdin: " .. tostring(err):match("only the console[^\n]*") .. ")"))
end)

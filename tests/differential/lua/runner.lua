-- Runs one differential script (the config's diff_script, a module on this
-- directory's path) as the start service, with `print` collecting lines as
-- Lua's print writes them, and writes them to the file diff_out. The same
-- script runs under Debian's lua with the original C module; the test
-- compares the two outputs.
local skynet = require "skynet"

skynet.start(function()
	local lines = {}
	print = function(...)
		local parts = {}
		for i = 1, select("#", ...) do
			parts[i] = tostring((select(i, ...)))
		end
		lines[#lines + 1] = table.concat(parts, "\t")
	end
	DIFF_DIR = skynet.getenv "diff_dir"
	local script = skynet.getenv "diff_script"
	local ok, err = xpcall(require, debug.traceback, script)
	if not ok then
		lines[#lines + 1] = "ERROR running " .. script .. ": " .. tostring(err)
	end
	local f = assert(io.open(skynet.getenv "diff_out", "w"))
	f:write(table.concat(lines, "\n"), "\n")
	f:close()
	skynet.error("DIFF DONE " .. script)
end)

-- A service of the node (or anyone on the machine) reaches the operator
-- console on 127.0.0.1 and tries everything that changes the node without a
-- login, then guesses passwords. Nothing it tries is done; the guessing is
-- stopped per connection and for the whole node; the victim lives.
local skynet = require "skynet"
local socket = require "skynet.socket"

local port = assert(tonumber(skynet.getenv "console_port"))

local function session()
	local fd = assert(socket.open("127.0.0.1", port))
	assert(socket.readline(fd, "\n") == "Welcome to skynet console")
	return function(line)
		socket.write(fd, line .. "\n")
		local out = {}
		while true do
			local l = socket.readline(fd, "\n")
			if not l then
				return table.concat(out, "\n"), nil
			elseif l == "<CMD OK>" then
				return table.concat(out, "\n"), true
			elseif l == "<CMD Error>" then
				return table.concat(out, "\n"), false
			end
			out[#out + 1] = l
		end
	end
end

local function fail(why)
	skynet.error("FAIL " .. why)
	error(why)
end

skynet.start(function()
	local victim = skynet.newservice("console_without_login_victim")
	local v = skynet.address(victim)
	skynet.newservice("debug_console", "127.0.0.1", port)
	local cmd = session()

	-- Reading is open on loopback.
	local out, ok = cmd("list")
	if not ok or not out:find(v, 1, true) then
		fail("list: " .. out)
	end
	-- Everything that changes the node is refused without a login.
	for _, line in ipairs {
		"kill " .. v, "exit " .. v, "killtask " .. v .. " x", "dbgcmd " .. v .. " EXIT",
		"inject " .. v .. " /tmp/x.lua", "debug " .. v, "call " .. v .. " 'x'",
		"start console_without_login_victim", "snax nothing", "log console_without_login_victim",
		"gc", "setenv owned yes", "getenv secret_console_users", "signal " .. v,
		"logon " .. v, "trace " .. v .. " on", "profactive on", "clearcache", "dumpheap",
	} do
		local out, ok = cmd(line)
		if ok ~= false or not out:find("Permission denied", 1, true) then
			fail(line .. " was not refused: " .. tostring(ok) .. " " .. out)
		end
	end

	-- Guessing: three tries a connection, then that connection is done.
	for i = 1, 3 do
		local out, ok = cmd("login admin guess" .. i)
		if ok ~= false or not out:find("login failed", 1, true) then
			fail("guess " .. i .. ": " .. out)
		end
	end
	local out = cmd("login admin guess4")
	if not out:find("too many failed logins on this connection", 1, true) then
		fail("fourth guess on one connection: " .. out)
	end
	-- New connections, at once: ten failures in all close the node's logins,
	-- even to the right password.
	local done = 0
	for n = 1, 3 do
		skynet.fork(function()
			local c = session()
			for i = 1, (n == 3 and 1 or 3) do
				c("login admin more" .. n .. i)
			end
			done = done + 1
		end)
	end
	while done < 3 do
		skynet.sleep(10)
	end
	local out = session()("login admin hunter2")
	if not out:find("too many failed logins on this node", 1, true) then
		fail("the right password after ten failures: " .. out)
	end

	-- The console's module does not give its powers to other services.
	skynet.newservice("console_signal_attacker", v)

	skynet.call(victim, "debug", "PING")
	if skynet.getenv("owned") then
		fail("setenv ran")
	end
	skynet.error("PASS")
end)

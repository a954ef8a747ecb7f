-- debug_console: skynet's operator console, `skynet.newservice("debug_console",
-- [address,] port)`: one command a line (`nc 127.0.0.1 8000`), or one command
-- in an HTTP GET path (`/list`, `/kill/:0000000a`) or POST body. Each answer
-- ends with `<CMD OK>` or `<CMD Error>`, as skynet's.
--
-- Who may do what (skyhold's; skynet's console has no logins):
-- * on a loopback address, commands that only report (list, stat, mem, ...)
--   answer without a login; everything that changes the node needs
--   `login <user> <password>` first;
-- * on any other address everything but `login` needs the login, and the
--   console will not start there without configured credentials
--   (secret_console_users = "user:password,...", or secret_console_password
--   for the user console_user, "admin" by default);
-- * every command that changes the node is written to the audit log with the
--   user and the connection that ran it; refused commands and failed logins
--   are audited as refusals. Failed logins are limited per connection and per
--   node (the skyhold.console module keeps the counts and compares the
--   passwords, which never reach this code);
-- * inject and debug run code in another service: they need the console's
--   role to hold debug_run, which only the operator's policy file gives.
local skynet = require "skynet"
local core = require "skynet.core"
local socket = require "skynet.socket"
local memory = require "skynet.memory"
local codecache = require "skynet.codecache"
local console = require "skyhold.console"

local arg = table.pack(...)
assert(arg.n <= 2)
local ip = (arg.n == 2 and arg[1] or "127.0.0.1")
local port = tonumber(arg[arg.n])
local TIMEOUT = 300 -- 3 sec
local LINE_LIMIT = 64 * 1024
local HTTP_LIMIT = 8192

-- Whether logins are needed for everything, and whether there are any.
local local_only = console.loopback(ip)
local readable, logins = pcall(console.credentials)
if not readable then
	logins = tostring(logins):gsub("^runtime error: ", "")
	-- Malformed credentials, or a role that cannot read them: logins fail
	-- with this reason; beyond loopback the console does not start.
	if not local_only then
		error(string.format("debug_console: refusing to listen on %s:%s: %s", ip, tostring(port), logins))
	end
	skynet.error("debug_console: logins are unavailable: " .. logins)
	logins = 0
end
if not local_only and logins == 0 then
	error(string.format("debug_console: refusing to listen on %s:%s: a console on a non-loopback address "
		.. "needs operator logins, and none are configured (set secret_console_users = \"user:password,...\" "
		.. "or secret_console_password in the config), or listen on 127.0.0.1", ip, tostring(port)))
end

local COMMAND = {}
local COMMANDX = {}

-- Commands that only report: open to a loopback connection without a login.
local READONLY = {
	help = true, list = true, stat = true, info = true, mem = true, cmem = true,
	jmem = true, service = true, task = true, uniqtask = true, ping = true,
	netstat = true, shrtbl = true,
}

-- Commands about the session itself, never audited as operations.
local SESSION = { login = true, logout = true }

local function format_table(t)
	local index = {}
	for k in pairs(t) do
		table.insert(index, k)
	end
	table.sort(index, function(a, b) return tostring(a) < tostring(b) end)
	local result = {}
	for _, v in ipairs(index) do
		table.insert(result, string.format("%s:%s", v, tostring(t[v])))
	end
	return table.concat(result, "\t")
end

local function dump_line(print, key, value)
	if type(value) == "table" then
		print(key, format_table(value))
	else
		print(key, tostring(value))
	end
end

local function dump_list(print, list)
	local index = {}
	for k in pairs(list) do
		table.insert(index, k)
	end
	table.sort(index, function(a, b) return tostring(a) < tostring(b) end)
	for _, v in ipairs(index) do
		dump_line(print, v, list[v])
	end
end

local function split_cmdline(cmdline)
	local split = {}
	for i in string.gmatch(cmdline, "%S+") do
		table.insert(split, i)
	end
	return split
end

local function who(conn)
	return string.format("%s@%s", conn.user or "(no login)", conn.addr)
end

-- nil if `conn` may run `command`, else why not (and the refusal audited).
local function refusal(conn, command, cmdline)
	if command == "login" or conn.user then
		return nil
	end
	if local_only and (READONLY[command] or command == "logout") then
		return nil
	end
	local why = local_only and "it changes the node" or "this console listens on " .. ip
	console.refused(conn.addr, command, "not logged in (" .. why .. ")", cmdline:match("^%S+%s+(.-)%s*$"))
	return string.format("Permission denied: %s needs an operator login (%s): login <user> <password>",
		command, why)
end

local function docmd(cmdline, print, conn)
	local split = split_cmdline(cmdline)
	local command = split[1]
	local cmd = COMMAND[command]
	local ok, list
	local denied = (cmd or COMMANDX[command]) and refusal(conn, command, cmdline)
	if denied then
		ok, list = false, denied
	elseif command == "login" then
		ok, list = pcall(COMMAND.login, conn, split[2], split[3])
	elseif command == "logout" then
		ok, list = true, "Bye " .. tostring(conn.user)
		conn.user = nil
	elseif cmd then
		if not READONLY[command] then
			console.audit(who(conn), string.format("%q", cmdline))
		end
		ok, list = pcall(cmd, table.unpack(split, 2))
	else
		cmd = COMMANDX[command]
		if cmd then
			console.audit(who(conn), string.format("%q", cmdline))
			split.fd = conn.id
			split[1] = cmdline
			ok, list = pcall(cmd, split)
		else
			print("Invalid command, type help for command list")
		end
	end

	if ok then
		if list then
			if type(list) == "string" then
				print(list)
			else
				dump_list(print, list)
			end
		end
		print("<CMD OK>")
	else
		-- An error raised by the runtime's Rust functions carries a Lua
		-- traceback; the operator gets its message, as from a Lua error.
		if list ~= nil and type(list) ~= "table" then
			list = (tostring(list):gsub("\nstack traceback:.*$", ""):gsub("^runtime error: ", ""))
		end
		print(list)
		print("<CMD Error>")
	end
end

local function base64_decode(s)
	local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	s = s:gsub("[^%w%+/=]", "")
	local bits, nbits, out = 0, 0, {}
	for i = 1, #s do
		local c = s:sub(i, i)
		if c == "=" then
			break
		end
		bits = (bits << 6) | (alphabet:find(c, 1, true) - 1)
		nbits = nbits + 6
		if nbits >= 8 then
			nbits = nbits - 8
			out[#out + 1] = string.char((bits >> nbits) & 0xff)
		end
	end
	return table.concat(out)
end

-- The header lines of an HTTP request whose first line was read; nil past
-- skynet's limit of 8192 bytes.
local function read_http_header(id, first)
	local header, size = {}, #first
	while true do
		local line = socket.readline(id, "\n")
		if not line then
			return nil
		end
		line = line:gsub("\r$", "")
		size = size + #line + 2
		if size > HTTP_LIMIT then
			return nil
		end
		if line == "" then
			return header
		end
		local k, v = line:match("^([^:]+):%s*(.-)%s*$")
		if k then
			header[k:lower()] = v
		end
	end
end

-- One HTTP request: its command, run as the user of its Basic credentials.
local function http_request(conn, print, first)
	local header = read_http_header(conn.id, first)
	if not header then
		return
	end
	local cmdline
	if first:sub(1, 4) == "GET " then
		local url = first:match("^GET%s+(%S+)") or "/"
		cmdline = url:sub(2):gsub("/", " ")
	else
		local n = tonumber(header["content-length"] or "0") or 0
		if n < 0 or n > HTTP_LIMIT then
			return
		end
		cmdline = n > 0 and socket.read(conn.id, n) or ""
		if not cmdline then
			return
		end
	end
	local auth = header["authorization"]
	local basic = auth and auth:match("^[Bb]asic%s+(%S+)")
	if basic then
		local user, password = base64_decode(basic):match("^([^:]*):(.*)$")
		local name, err = console.login(conn.id, user or "", password or "")
		if not name then
			skynet.sleep(100) -- as a failed login command
			print(err)
			print("<CMD Error>")
			return
		end
		conn.user = name
	end
	docmd(cmdline, print, conn)
end

local function console_main_loop(stdin, print, addr)
	print("Welcome to skynet console")
	skynet.error(addr, "connected")
	local conn = { id = stdin, addr = addr }
	local ok, err = pcall(function()
		while true do
			local cmdline = socket.readline(stdin, "\n")
			if not cmdline then
				break
			end
			cmdline = cmdline:gsub("\r$", "")
			if cmdline:sub(1, 4) == "GET " or cmdline:sub(1, 5) == "POST " then
				http_request(conn, print, cmdline)
				break
			end
			if cmdline ~= "" then
				docmd(cmdline, print, conn)
			end
		end
	end)
	if not ok then
		skynet.error(stdin, err)
	end
	console.forget(stdin)
	skynet.error(addr, "disconnect")
	socket.close(stdin)
end

skynet.start(function()
	local listen_socket, ip, port = socket.listen(ip, port)
	skynet.error("Start debug console at " .. ip .. ":" .. port)
	socket.start(listen_socket, function(id, addr)
		local function print(...)
			local t = { ... }
			for k, v in ipairs(t) do
				t[k] = tostring(v)
			end
			socket.write(id, table.concat(t, "\t"))
			socket.write(id, "\n")
		end
		socket.start(id)
		socket.limit(id, LINE_LIMIT)
		skynet.fork(console_main_loop, id, print, addr)
	end)
end)

function COMMAND.login(conn, user, password)
	if not user or not password then
		error("usage: login <user> <password>")
	end
	local name, err = console.login(conn.id, user, password)
	if not name then
		skynet.sleep(100) -- a failed login costs its connection a second
		error(err)
	end
	conn.user = name
	console.audit(who(conn), "login")
	return "Welcome " .. name
end

function COMMAND.help()
	return {
		help = "This help message",
		list = "List all the service",
		stat = "Dump all stats",
		info = "info address : get service infomation",
		exit = "exit address : kill a lua service",
		kill = "kill address : kill service",
		mem = "mem : show memory status",
		gc = "gc : force every lua service do garbage collect",
		start = "lanuch a new lua service",
		snax = "lanuch a new snax service",
		clearcache = "clear lua code cache",
		service = "List unique service",
		task = "task address : show service task detail",
		uniqtask = "task address : show service unique task detail",
		inject = "inject address luascript.lua",
		logon = "logon address",
		logoff = "logoff address",
		log = "launch a new lua service with log",
		debug = "debug address : debug a lua service",
		signal = "signal address sig",
		cmem = "Show C memory info",
		jmem = "Show jemalloc mem stats",
		ping = "ping address",
		call = "call address ...",
		trace = "trace address [proto] [on|off]",
		netstat = "netstat : show netstat",
		profactive = "profactive [on|off] : active/deactive jemalloc heap profilling",
		dumpheap = "dumpheap : dump heap profilling",
		killtask = "killtask address threadname : threadname listed by task",
		dbgcmd = "run address debug command",
		getenv = "getenv name : skynet.getenv(name)",
		setenv = "setenv name value: skynet.setenv(name,value)",
		shrtbl = "Show shared short string table info",
		login = "login user password : log in as an operator",
		logout = "logout : log out",
	}
end

function COMMAND.clearcache()
	codecache.clear()
end

function COMMAND.start(...)
	local ok, addr = pcall(skynet.newservice, ...)
	if ok then
		if addr then
			return { [skynet.address(addr)] = ... }
		else
			return "Exit"
		end
	else
		return "Failed"
	end
end

function COMMAND.log(...)
	local ok, addr = pcall(skynet.call, ".launcher", "lua", "LOGLAUNCH", "snlua", ...)
	if ok then
		if addr then
			return { [skynet.address(addr)] = ... }
		else
			return "Failed"
		end
	else
		return "Failed"
	end
end

function COMMAND.snax(...)
	local snax = require "skynet.snax"
	local ok, s = pcall(snax.newservice, ...)
	if ok then
		local addr = s.handle
		return { [skynet.address(addr)] = ... }
	else
		return "Failed"
	end
end

function COMMAND.service()
	return skynet.call("SERVICE", "lua", "LIST")
end

local function adjust_address(address)
	address = assert(address, "Need an address")
	local prefix = address:sub(1, 1)
	if prefix == '.' then
		return assert(skynet.localname(address), "Not a valid name")
	elseif prefix == ':' then
		return assert(tonumber(address:sub(2), 16), "Need an address")
	end
	return assert(tonumber("0x" .. address), "Need an address") | (skynet.harbor(skynet.self()) << 24)
end

function COMMAND.list()
	return skynet.call(".launcher", "lua", "LIST")
end

local function timeout(ti)
	if ti then
		ti = tonumber(ti)
		if ti <= 0 then
			ti = nil
		end
	else
		ti = TIMEOUT
	end
	return ti
end

function COMMAND.stat(ti)
	return skynet.call(".launcher", "lua", "STAT", timeout(ti))
end

function COMMAND.mem(ti)
	return skynet.call(".launcher", "lua", "MEM", timeout(ti))
end

function COMMAND.kill(address)
	return skynet.call(".launcher", "lua", "KILL", adjust_address(address))
end

function COMMAND.gc(ti)
	return skynet.call(".launcher", "lua", "GC", timeout(ti))
end

function COMMAND.exit(address)
	skynet.send(adjust_address(address), "debug", "EXIT")
end

-- inject and debug run code in another service: the console's role must
-- hold debug_run (the policy file's), else the refusal is audited here.
local function may_run_code(what, address)
	if core.permits(skynet.self(), "debug_run") then
		return
	end
	core.audit(skynet.self(), "debug_run", string.format("console %s into %s", what, skynet.address(address)))
	error(string.format("%s is refused: the console's role does not hold debug_run "
		.. "(grant it in the policy file: roles = { console = { \"kill\", \"read_secrets\", \"setenv\", \"debug_run\" } })",
		what))
end

function COMMAND.inject(address, filename, ...)
	address = adjust_address(address)
	may_run_code("inject", address)
	local source, err = console.script(assert(filename, "usage: inject address luascript.lua"))
	if not source then
		return err
	end
	local ok, output = skynet.call(address, "debug", "RUN", source, filename, ...)
	if ok == false then
		error(output)
	end
	return output
end

function COMMAND.dbgcmd(address, cmd, ...)
	address = adjust_address(address)
	return skynet.call(address, "debug", cmd, ...)
end

function COMMAND.task(address)
	return COMMAND.dbgcmd(address, "TASK")
end

function COMMAND.killtask(address, threadname)
	return COMMAND.dbgcmd(address, "KILLTASK", threadname)
end

function COMMAND.uniqtask(address)
	return COMMAND.dbgcmd(address, "UNIQTASK")
end

function COMMAND.info(address, ...)
	return COMMAND.dbgcmd(address, "INFO", ...)
end

function COMMANDX.debug(cmd)
	local address = adjust_address(cmd[2])
	may_run_code("debug", address)
	error("debug: skyhold has no remote debugger (debug REMOTEDEBUG); use inject to run code in the service")
end

-- logon address: every message the service receives is written to
-- <logpath>/<handle>.log under the file write root (skynet's format) until
-- logoff; the runtime says why when it cannot (no such service, no
-- directory configured, the file).
function COMMAND.logon(address)
	address = adjust_address(address)
	core.command("LOGON", skynet.address(address))
end

function COMMAND.logoff(address)
	address = adjust_address(address)
	core.command("LOGOFF", skynet.address(address))
end

-- signal address [sig]: 0 (the default) breaks the code the service is
-- running with the error "signal 0" (an endless loop, say); 1 logs the
-- memory it holds.
function COMMAND.signal(address, sig)
	address = adjust_address(address)
	local n = 0
	if sig then
		n = assert(math.tointeger(tonumber(sig)), "signal address sig: sig is a number")
	end
	if not console.signal(address, n) then
		error("signal: no service " .. skynet.address(address))
	end
end

function COMMAND.cmem()
	local info = memory.info()
	local tmp = {}
	for k, v in pairs(info) do
		tmp[skynet.address(k)] = v
	end
	tmp.total = memory.total()
	tmp.block = memory.block()

	return tmp
end

function COMMAND.jmem()
	local info = memory.jestat()
	local tmp = {}
	for k, v in pairs(info) do
		tmp[k] = string.format("%11d  %8.2f Mb", v, v / 1048576)
	end
	return tmp
end

function COMMAND.shrtbl()
	local n, total, longest, space = memory.ssinfo()
	return { n = n, total = total, longest = longest, space = space }
end

function COMMAND.ping(address)
	address = adjust_address(address)
	local ti = skynet.now()
	skynet.call(address, "debug", "PING")
	ti = skynet.now() - ti
	return tostring(ti)
end

local function toboolean(x)
	return x and (x == "true" or x == "on")
end

function COMMAND.trace(address, proto, flag)
	address = adjust_address(address)
	if flag == nil then
		if proto == "on" or proto == "off" then
			proto = toboolean(proto)
		end
	else
		flag = toboolean(flag)
	end
	skynet.call(address, "debug", "TRACELOG", proto, flag)
end

function COMMANDX.call(cmd)
	local address = adjust_address(cmd[2])
	local cmdline = assert(cmd[1]:match("%S+%s+%S+%s(.+)"), "need arguments")
	local args_func = assert(load("return " .. cmdline, "debug console", "t", {}), "Invalid arguments")
	local args = table.pack(pcall(args_func))
	if not args[1] then
		error(args[2])
	end
	local rets = table.pack(skynet.call(address, "lua", table.unpack(args, 2, args.n)))
	return rets
end

local function bytes(size)
	if size == nil or size == 0 then
		return
	end
	if size < 1024 then
		return size
	end
	if size < 1024 * 1024 then
		return tostring(size / 1024) .. "K"
	end
	return tostring(size / (1024 * 1024)) .. "M"
end

local function convert_stat(info)
	local now = skynet.now()
	local function time(t)
		if t == nil then
			return
		end
		t = now - t
		if t < 6000 then
			return tostring(t / 100) .. "s"
		end
		local hour = t // (100 * 60 * 60)
		t = t - hour * 100 * 60 * 60
		local min = t // (100 * 60)
		t = t - min * 100 * 60
		local sec = t / 100
		return string.format("%s%d:%.2gs", hour == 0 and "" or (hour .. ":"), min, sec)
	end

	info.address = skynet.address(info.address)
	info.read = bytes(info.read)
	info.write = bytes(info.write)
	info.wbuffer = bytes(info.wbuffer)
	info.rtime = time(info.rtime)
	info.wtime = time(info.wtime)
end

-- Every socket of the node (the console's role holds read_secrets, so the
-- socket driver lists them all, not only the console's own).
function COMMAND.netstat()
	local stat = socket.netstat()
	for _, info in ipairs(stat) do
		convert_stat(info)
	end
	return stat
end

function COMMAND.dumpheap()
	memory.dumpheap()
end

function COMMAND.profactive(flag)
	if flag ~= nil then
		if flag == "on" or flag == "off" then
			flag = toboolean(flag)
		end
		memory.profactive(flag)
	end
	local active = memory.profactive()
	return "heap profilling is " .. (active and "active" or "deactive")
end

function COMMAND.getenv(name)
	name = assert(name, "usage: getenv name")
	if name:sub(1, 14) == "secret_console" then
		error("getenv: the console's credentials are not shown")
	end
	local value = skynet.getenv(name)
	return { [name] = tostring(value) }
end

function COMMAND.setenv(name, value)
	return skynet.setenv(name, value)
end

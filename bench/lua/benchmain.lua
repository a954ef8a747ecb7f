-- benchmain: the `start` service of every benchmark run.
--
-- The benchmark is named by the config key `bench`; counts can be scaled with
-- `bench_scale` (a number, default 1) and echo benchmarks listen on
-- 127.0.0.1:`bench_port`. The result is one line, written with skynet.error:
--
--   BENCH <name> value=<number> unit=<unit> key=value ...
--
-- and on failure `BENCH error name=<name> reason=<text>`. After reporting the
-- service stays idle: the harness reads the line, samples the process and
-- kills the node. Written against skynet's public Lua API only, so the same
-- file runs on skynet and on skyhold.
local skynet = require "skynet"

local BENCH = skynet.getenv "bench" or "send"
local SCALE = tonumber(skynet.getenv "bench_scale" or "1") or 1
local PORT = tonumber(skynet.getenv "bench_port" or "0") or 0

local function scaled(n)
	local v = math.floor(n * SCALE)
	if v < 1 then
		v = 1
	end
	return v
end

local function now()
	return skynet.hpc() / 1e9
end

local function fmt(v)
	if math.type(v) == "float" then
		return string.format("%.6g", v)
	end
	return tostring(v)
end

-- report(name, {key, value}, {key, value}, ...): one machine-readable line.
local function report(name, ...)
	local parts = { "BENCH", name }
	for _, kv in ipairs({ ... }) do
		parts[#parts + 1] = kv[1] .. "=" .. fmt(kv[2])
	end
	skynet.error(table.concat(parts, " "))
end

-- "done" notifications from workers (ring tokens, the send sink, callers).
local done_count = 0
local done_need = math.huge
local done_token = {}

local function expect_done(n)
	done_count = 0
	done_need = n
end

local function wait_done()
	if done_count < done_need then
		skynet.wait(done_token)
	end
end

local function on_done()
	done_count = done_count + 1
	if done_count == done_need then
		skynet.wakeup(done_token)
	end
end

local B = {}

-- One-way sends A -> B: the sink tells us when it has counted all of them.
function B.send()
	local n = scaled(1000000)
	local sink = skynet.newservice "bench_echo"
	local sender = skynet.newservice "bench_sender"
	skynet.call(sink, "lua", "expect", n)
	expect_done(1)
	local t0 = now()
	skynet.call(sender, "lua", "run", sink, n, 1000)
	wait_done()
	local dt = now() - t0
	report("send", { "value", n / dt }, { "unit", "msg/s" }, { "n", n }, { "elapsed", dt })
end

-- Call round trips from `callers` caller services, `n` calls in all.
local function calls(name, n, callers)
	local echo = skynet.newservice "bench_echo"
	local list = {}
	for i = 1, callers do
		list[i] = skynet.newservice "bench_caller"
	end
	local per = n // callers
	expect_done(callers)
	local t0 = now()
	for i = 1, callers do
		skynet.fork(function()
			skynet.call(list[i], "lua", "run", echo, per, false, 600)
			on_done()
		end)
	end
	wait_done()
	local dt = now() - t0
	local total = per * callers
	report(name, { "value", total / dt }, { "unit", "calls/s" }, { "n", total },
		{ "callers", callers }, { "elapsed", dt })
end

function B.call()
	calls("call", scaled(200000), 1)
end

function B.call10()
	calls("call10", scaled(200000), 10)
end

-- A ring of `size` services passing `tokens` tokens, `hops` hops in all.
local function ring(name, size, tokens, hops)
	local per_token = hops // tokens
	local nodes = {}
	for i = 1, size do
		nodes[i] = skynet.newservice "bench_ring"
	end
	local me = skynet.self()
	for i = 1, size do
		skynet.call(nodes[i], "lua", "link", nodes[i % size + 1], me, per_token)
	end
	expect_done(tokens)
	local t0 = now()
	for t = 0, tokens - 1 do
		skynet.send(nodes[t * size // tokens + 1], "lua", 0)
	end
	wait_done()
	local dt = now() - t0
	local total = per_token * tokens
	report(name, { "value", total / dt }, { "unit", "hops/s" }, { "n", total },
		{ "services", size }, { "tokens", tokens }, { "elapsed", dt })
end

function B.ring()
	ring("ring", 1000, 1, scaled(1000000))
end

function B.ring100()
	ring("ring100", 1000, 100, scaled(1000000))
end

-- Spawn `n` Lua services one after another with newservice.
function B.spawn()
	local n = scaled(10000)
	-- Give the harness a moment to read the resident size before spawning.
	report("spawn_baseline")
	skynet.sleep(50)
	local t0 = now()
	for i = 1, n do
		skynet.newservice "bench_idle"
	end
	local dt = now() - t0
	report("spawn", { "value", n / dt }, { "unit", "services/s" }, { "n", n }, { "elapsed", dt })
end

-- One service floods a target with one-way sends (a fixed count) while this
-- service times calls to the same target, back to back, for as long as the
-- flood lasts.
local flood_finished = false

local function pct(sorted, p)
	if #sorted == 0 then
		return 0
	end
	return sorted[math.floor((#sorted - 1) * p + 0.5) + 1]
end

function B.flood()
	local flood_n = scaled(2000000)
	local max_calls = 200000
	local limit_s = 60
	local target = skynet.newservice "bench_echo"
	local flooder = skynet.newservice "bench_sender"
	flood_finished = false
	local t0 = now()
	skynet.call(flooder, "lua", "run", target, flood_n, 256, skynet.self())
	skynet.sleep(10)
	local lat = {}
	local t1 = now()
	local deadline = t1 + limit_s
	while not flood_finished and #lat < max_calls do
		local c0 = now()
		skynet.call(target, "lua", "ping")
		local c1 = now()
		lat[#lat + 1] = (c1 - c0) * 1000
		if c1 > deadline then
			break
		end
	end
	local calls_elapsed = now() - t1
	local sent = skynet.call(flooder, "lua", "stop")
	local dt = now() - t0
	table.sort(lat)
	local p99 = pct(lat, 0.99)
	report("flood", { "value", p99 }, { "unit", "ms" }, { "p50", pct(lat, 0.5) },
		{ "p99", p99 }, { "max", lat[#lat] or 0 }, { "n", #lat }, { "flood_sent", sent },
		{ "calls_elapsed", calls_elapsed }, { "elapsed", dt })
end

local function echo_loop(socket, id)
	socket.start(id)
	while true do
		local data = socket.read(id)
		if not data then
			break
		end
		socket.write(id, data)
	end
	socket.close(id)
end

-- TCP echo inside this one service (skynet.socket).
B.echo = function()
	local socket = require "skynet.socket"
	local lid = socket.listen("127.0.0.1", PORT)
	socket.start(lid, function(id)
		skynet.fork(echo_loop, socket, id)
	end)
	report("echo_ready", { "port", PORT })
end

-- TCP echo with one agent service per connection.
B.echo_agent = function()
	local socket = require "skynet.socket"
	local lid = socket.listen("127.0.0.1", PORT)
	socket.start(lid, function(id)
		skynet.newservice("bench_echo_agent", id)
	end)
	report("echo_ready", { "port", PORT })
end

-- TCP echo through the gate service, a watchdog and one agent per connection
-- (2-byte big-endian length framing).
B.echo_gate = function()
	local watchdog = skynet.newservice "bench_watchdog"
	skynet.call(watchdog, "lua", "start", {
		address = "127.0.0.1",
		port = PORT,
		maxclient = 1024,
		nodelay = true,
	})
	report("echo_ready", { "port", PORT })
end

-- TCP echo through skynet's native gate (skynet.launch("gate", "S", ...)),
-- a watchdog and one agent per connection (2-byte big-endian framing).
B.echo_cgate = function()
	local watchdog = skynet.newservice "bench_cwatchdog"
	assert(skynet.call(watchdog, "lua", "start", PORT, 1024), "the gate did not start")
	report("echo_ready", { "port", PORT })
end

-- cluster_call, node b (the callee): bench_echo reachable from other nodes
-- as @echo. cluster.open with a node name listens on that node's address in
-- the cluster map (skynet's idiom, `cluster.open "db"`), so b listens on
-- 127.0.0.1 only, not on 0.0.0.0 as cluster.open(port) would.
B.cluster_server = function()
	local cluster = require "skynet.cluster"
	local echo = skynet.newservice "bench_echo"
	cluster.register("echo", echo)
	cluster.reload { b = "127.0.0.1:" .. PORT }
	cluster.open "b"
	report("cluster_ready", { "port", PORT })
end

-- cluster_call, node a (the caller): back-to-back cluster.call("b", "@echo",
-- i) from this one service; every reply must be i. The first warm-up call
-- opens the link (and, on skyhold, does the TLS handshake).
B.cluster_call = function()
	local cluster = require "skynet.cluster"
	local n = scaled(100000)
	local warmup = 200
	cluster.reload { b = "127.0.0.1:" .. PORT }
	for i = 1, warmup do
		local r = cluster.call("b", "@echo", i)
		if r ~= i then
			error(string.format("warm-up call %d: reply %s", i, tostring(r)))
		end
	end
	local lat = {}
	local t0 = now()
	for i = 1, n do
		local c0 = now()
		local r = cluster.call("b", "@echo", i)
		lat[i] = (now() - c0) * 1000
		if r ~= i then
			error(string.format("call %d: reply %s", i, tostring(r)))
		end
	end
	local dt = now() - t0
	table.sort(lat)
	report("cluster_call", { "value", n / dt }, { "unit", "calls/s" }, { "n", n },
		{ "p50", pct(lat, 0.5) }, { "p99", pct(lat, 0.99) }, { "max", lat[#lat] or 0 },
		{ "warmup", warmup }, { "elapsed", dt })
end

local function run()
	local f = B[BENCH]
	if not f then
		report("error", { "name", BENCH }, { "reason", "unknown benchmark" })
		return
	end
	local ok, err = xpcall(f, debug and debug.traceback or tostring)
	if not ok then
		local reason = tostring(err):gsub("[\r\n\t]+", " | ")
		skynet.error("BENCH error name=" .. BENCH .. " reason=" .. reason)
	end
end

skynet.start(function()
	skynet.dispatch("lua", function(session, source, cmd)
		if cmd == "done" then
			on_done()
		elseif cmd == "flood_done" then
			flood_finished = true
		end
		if session ~= 0 then
			skynet.ret()
		end
	end)
	skynet.fork(run)
end)

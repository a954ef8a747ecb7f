-- skynet.profile: the time a coroutine spends running.
--
-- profile.start([co]) starts the count for co (the running coroutine by
-- default), profile.stop([co]) ends it and returns the seconds counted.
-- profile.resume and profile.wrap are coroutine.resume and coroutine.wrap
-- that, when they run a coroutine being counted, count only the time it
-- runs: the time it spends suspended in between is left out. So is the time
-- a counted coroutine waits on the framework (a call, a sleep, a socket
-- read): once a count is started, the framework's suspensions go through
-- this module (skynet.set_framework_yield), which stops the count of every
-- counted coroutine on the suspending chain and starts it again on resume.
--
-- skynet reads the worker thread's CPU clock; the sandbox has none, so the
-- clock here is skynet.core's monotonic one (skynet.hpc). Within one run
-- the two differ only when the OS takes the thread away.
local skynet = require "skynet"
local c = require "skynet.core"

local hpc = c.hpc
local co_running, co_resume, co_create, co_status, co_close =
	coroutine.running, coroutine.resume, coroutine.create, coroutine.status, coroutine.close
local co_yield = coroutine.yield
local error, pairs, select, type, tostring = error, pairs, select, type, tostring

local started = setmetatable({}, { __mode = "k" })  -- co -> hpc when its run began
local total = setmetatable({}, { __mode = "k" })    -- co -> ns counted before it
local waiting = setmetatable({}, { __mode = "k" })  -- co -> true while the framework holds it

local profile = {}

local function now()
	return hpc()
end

local function thread_of(co)
	if co == nil then
		return co_running()
	end
	if type(co) ~= "thread" then
		error("bad argument #1 (thread expected, got " .. type(co) .. ")", 3)
	end
	return co
end

-- The counted coroutines a framework suspension stops: the one suspending
-- and those that resumed it, in turn (status "running" or "normal").
local function restarted(list, ...)
	local t = now()
	for i = 1, #list do
		local co = list[i]
		if waiting[co] then
			waiting[co] = nil
			started[co] = t
		end
	end
	return ...
end

local function counting_yield(...)
	local list
	local t = now()
	for co, s in pairs(started) do
		local st = co_status(co)
		if (st == "running" or st == "normal") and not waiting[co] then
			total[co] = total[co] + (t - s)
			waiting[co] = true
			list = list or {}
			list[#list + 1] = co
		end
	end
	if not list then
		return co_yield(...)
	end
	return restarted(list, co_yield(...))
end

local installed = false

function profile.start(co)
	co = thread_of(co)
	if started[co] then
		error(string.format("Thread %s start profile more than once", tostring(co)), 2)
	end
	if not installed then
		installed = true
		skynet.set_framework_yield(counting_yield)
	end
	total[co] = 0
	started[co] = now()
end

function profile.stop(co)
	co = thread_of(co)
	local s = started[co]
	if not s then
		error("Call profile.start() before profile.stop()", 2)
	end
	local ns = total[co]
	if not waiting[co] then
		ns = ns + (now() - s)
	end
	started[co], total[co], waiting[co] = nil, nil, nil
	return ns / 1e9
end

-- Adds the time of the run that just ended to co's count.
local function counted(co, ...)
	if started[co] then
		total[co] = total[co] + (now() - started[co])
	end
	return ...
end

function profile.resume(co, ...)
	if started[co] then
		started[co] = now()
	end
	return counted(co, co_resume(co, ...))
end

local function wrapped_result(co, ok, ...)
	if ok then
		return ...
	end
	local err = ...
	if co_status(co) == "dead" then
		co_close(co)
	end
	if type(err) == "string" then
		error(err, 2)
	end
	error(err, 0)
end

function profile.wrap(f)
	local co = co_create(f)
	return function(...)
		if started[co] then
			started[co] = now()
		end
		return wrapped_result(co, counted(co, co_resume(co, ...)))
	end
end

return profile

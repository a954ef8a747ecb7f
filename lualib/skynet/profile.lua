-- skynet.profile: the time a coroutine spends running.
--
-- profile.start([co]) starts the count for co (the running coroutine by
-- default), profile.stop([co]) ends it and returns the seconds counted.
-- profile.resume and profile.wrap are coroutine.resume and coroutine.wrap
-- that, when they run a coroutine being counted, count only the time it
-- runs: the time it spends suspended in between is left out.
--
-- skynet reads the worker thread's CPU clock; the sandbox has none, so the
-- clock here is skynet.core's monotonic one (skynet.hpc). Within one
-- resume the two differ only when the OS takes the thread away. The
-- framework's own resumes (after a call, a sleep) are made by the runtime,
-- not through profile.resume, so the time a counted coroutine waits on the
-- framework is counted too — unlike skynet, whose framework resumes go
-- through its counting resume.
local c = require "skynet.core"

local hpc = c.hpc
local co_running, co_resume, co_create, co_status, co_close =
	coroutine.running, coroutine.resume, coroutine.create, coroutine.status, coroutine.close
local error, select, type, tostring = error, select, type, tostring

local started = setmetatable({}, { __mode = "k" })  -- co -> hpc when its run began
local total = setmetatable({}, { __mode = "k" })    -- co -> ns counted before it

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

function profile.start(co)
	co = thread_of(co)
	if started[co] then
		error(string.format("Thread %s start profile more than once", tostring(co)), 2)
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
	local ns = total[co] + (now() - s)
	started[co], total[co] = nil, nil
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

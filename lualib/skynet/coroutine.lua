-- skynet.coroutine: coroutines a service creates for itself, which may call
-- skynet.call, sleep and so on inside. A framework suspension inside one is
-- passed up to the dispatcher, and the coroutine continues when the reply
-- comes; skynetco.yield hands values back to whoever resumed it.
local coroutine = coroutine
local co_create, co_resume, co_yield, co_status, co_running =
	coroutine.create, coroutine.resume, coroutine.yield, coroutine.status, coroutine.running
local table_pack, table_unpack = table.pack, table.unpack

local skynetco = {}
local ours = setmetatable({}, { __mode = "k" })     -- coroutines created here
local blocked = setmetatable({}, { __mode = "k" })  -- suspended inside a framework call
local root = setmetatable({}, { __mode = "k" })     -- the framework thread running it

skynetco.isyieldable = coroutine.isyieldable
skynetco.running = coroutine.running
skynetco.close = coroutine.close

function skynetco.create(f)
	local co = co_create(f)
	ours[co] = true
	return co
end

local resume_loop

-- The coroutine made a framework suspension: suspend our own thread the same
-- way, then give the coroutine what the framework resumed us with.
local function pass_up(co, ...)
	blocked[co] = true
	local function continue(...)
		blocked[co] = nil
		return resume_loop(co, co_resume(co, ...))
	end
	return continue(co_yield(...))
end

-- Varargs kept whole: a coroutine that returns nothing gives `true` alone,
-- not `true, nil`.
function resume_loop(co, ok, ...)
	if not ok then
		return false, (...)
	end
	if co_status(co) == "dead" then
		return true, ...
	end
	if (...) == "USER" then
		return true, select(2, ...)
	end
	return pass_up(co, ...)
end

function skynetco.resume(co, ...)
	if not ours[co] then
		return false, "cannot resume none skynet coroutine"
	end
	local me = co_running()
	root[co] = root[me] or me
	return resume_loop(co, co_resume(co, ...))
end

function skynetco.yield(...)
	return co_yield("USER", ...)
end

function skynetco.status(co)
	if blocked[co] then
		return "blocked"
	end
	return co_status(co)
end

function skynetco.wrap(f)
	local co = skynetco.create(f)
	return function(...)
		local r = table_pack(skynetco.resume(co, ...))
		if r[1] then
			return table_unpack(r, 2, r.n)
		end
		error(r[2], 0)
	end
end

-- The framework thread a coroutine runs under, and whether the argument was
-- a plain (framework) thread itself.
function skynetco.thread(co)
	co = co or co_running()
	if ours[co] then
		return root[co], false
	end
	return co, true
end

return skynetco

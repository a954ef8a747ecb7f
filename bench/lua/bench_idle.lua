-- bench_idle: a service that does nothing (the spawn benchmark).
local skynet = require "skynet"

skynet.start(function() end)

-- A snax service on node b that other nodes reach through the cluster.
local skynet = require "skynet"
local snax = require "skynet.snax"

local hits = 0

function init()
	snax.enablecluster()
end

function accept.hit(n)
	hits = hits + (n or 1)
end

function response.ping(text)
	return "pong " .. text
end

function response.hits()
	return hits
end

local _ = skynet

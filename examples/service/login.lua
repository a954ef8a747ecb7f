-- login: checks a player's token. Only this service may read the tokens
-- (secret_game_tokens; see policy.lua).
local skynet = require "skynet"

local tokens = {}

skynet.start(function()
	local list = skynet.getenv("secret_game_tokens") or ""
	for name, token in string.gmatch(list, "([%w_]+):([^,]+)") do
		tokens[name] = token
	end
	skynet.dispatch("lua", function(_, _, cmd, name, token)
		assert(cmd == "check")
		skynet.ret(skynet.pack(tokens[name] ~= nil and tokens[name] == token))
	end)
end)

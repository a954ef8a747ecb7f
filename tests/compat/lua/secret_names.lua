-- Config keys named like credentials are hidden as secret_ keys are, unless
-- the operator lists them in public_keys; skyhold's own keys (cluster_key,
-- a path the binary reads) stay as they are.
local skynet = require "skynet"

skynet.start(function()
	assert(skynet.getenv "db_password" == nil, "hidden by its name")
	assert(skynet.getenv "api_token" == nil, "hidden by its name")
	assert(skynet.getenv "db_password_hint" == "ask the operator", "listed in public_keys")
	assert(skynet.getenv "sort_key" == "name", "an ordinary key")
	skynet.error("PASS secret_names")
end)

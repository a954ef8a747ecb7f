local skynet = require "skynet"

skynet.start(function()
	assert(skynet.getenv("motd") == "hello", "ordinary keys are readable")
	assert(skynet.getenv("db_password") == nil, "a listed secret is hidden")
	assert(skynet.getenv("secret_cluster_key") == nil, "a secret_ key is hidden")
	skynet.error("PASS")
end)

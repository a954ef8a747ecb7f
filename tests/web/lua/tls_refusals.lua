-- What ltls.c refuses: files the config does not name, a server whose
-- certificate the client cannot check.
local skynet = require "skynet"
local ltls = require "ltls.c"
local tlshelper = require "http.tlshelper"
local httpc = require "http.httpc"

local function fails(what, f, ...)
	local ok, err = pcall(f, ...)
	if ok then
		skynet.error("FAIL " .. what .. " succeeded")
		error(what)
	end
	return tostring(err)
end

skynet.start(function()
	local ctx = ltls.newctx()
	local err = fails("set_cert /etc/passwd", ctx.set_cert, ctx, "/etc/passwd", "/etc/passwd")
	assert(err:find("not a file the config names", 1, true), err)
	err = fails("set_cert of the key as certificate", ctx.set_cert, ctx, skynet.getenv "keyfile",
		skynet.getenv "keyfile")
	-- the configured files do load
	ctx:set_cert(skynet.getenv "certfile", skynet.getenv "keyfile")
	assert(ltls.newtls("server", ctx))
	err = fails("a server context without a certificate", ltls.newtls, "server", ltls.newctx())
	assert(err:find("set_cert", 1, true), err)
	err = fails("an unknown method", ltls.newtls, "sideways", ctx)
	assert(err:find("invalid method", 1, true), err)
	-- a client that would verify needs a name
	local client = ltls.newtls("client", ltls.newctx())
	err = fails("a client without a name", client.handshake, client)
	assert(err:find("name", 1, true), err)
	client:close()
	err = fails("a closed context", client.handshake, client)
	assert(err:find("closed", 1, true), err)
	assert(require "ltls.init.c".constructor() == nil)
	-- a TLS server (ours) whose name does not match what the client asks
	local web = skynet.newservice("web_server_port", "https")
	local port = skynet.call(web, "lua", "port")
	httpc.timeout = 300
	err = fails("https to a name the certificate lacks", httpc.get,
		"https://127.0.0.2:" .. port, "/hello")
	skynet.error("refused as expected: " .. err)
	local code, body = httpc.get("https://127.0.0.1:" .. port, "/hello")
	assert(code == 200 and body == "hello world", body)
	skynet.error("PASS tls refusals")
end)

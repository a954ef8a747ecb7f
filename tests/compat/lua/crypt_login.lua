-- A login in the manner of skynet's examples/login (snax.loginserver and its
-- client): line-based, a random challenge, a Diffie-Hellman exchange, an
-- hmac64 proof of the shared secret, and a DES-encrypted token, every value
-- base64 on the wire. The server uses skynet.crypt, the client (another
-- service) client.crypt; each step is checked on both sides, and a client
-- with the wrong secret is refused.
local skynet = require "skynet"
local socket = require "skynet.socket"

local mode, arg, cheat = ...

if mode == "client" then
	local crypt = require "client.crypt"
	local function run()
		local fd = assert(socket.open("127.0.0.1", tonumber(arg)))
		local function line()
			return assert(socket.readline(fd), "server closed")
		end
		local challenge = crypt.base64decode(line())
		assert(#challenge == 8)
		local clientkey = crypt.randomkey()
		socket.write(fd, crypt.base64encode(crypt.dhexchange(clientkey)) .. "\n")
		local serverkey = crypt.base64decode(line())
		local secret = crypt.dhsecret(serverkey, clientkey)
		if cheat then
			secret = crypt.randomkey()
		end
		socket.write(fd, crypt.base64encode(crypt.hmac64(challenge, secret)) .. "\n")
		local token = string.format("%s@%s:%s",
			crypt.base64encode("alice"), crypt.base64encode("sample"), crypt.base64encode("password"))
		socket.write(fd, crypt.base64encode(crypt.desencode(secret, token)) .. "\n")
		local result = line()
		socket.close(fd)
		return result, crypt.hexencode(secret)
	end
	skynet.start(function()
		skynet.dispatch("lua", function()
			skynet.ret(skynet.pack(run()))
		end)
	end)
	return
end

local crypt = require "skynet.crypt"

-- The server's side of one connection: what it said last, and the secret.
local function auth(fd)
	local function line()
		return assert(socket.readline(fd), "client closed")
	end
	local challenge = crypt.randomkey()
	socket.write(fd, crypt.base64encode(challenge) .. "\n")
	local clientkey = crypt.base64decode(line())
	assert(#clientkey == 8, "Invalid client key")
	local serverkey = crypt.randomkey()
	socket.write(fd, crypt.base64encode(crypt.dhexchange(serverkey)) .. "\n")
	local secret = crypt.dhsecret(clientkey, serverkey)
	local hmac = crypt.base64decode(line())
	local etoken = line()
	if hmac ~= crypt.hmac64(challenge, secret) then
		socket.write(fd, "400 Bad Request\n")
		return "challenge failed", secret
	end
	local token = crypt.desdecode(secret, crypt.base64decode(etoken))
	local user, server, password = token:match("([^@]+)@([^:]+):(.+)")
	user, server, password = crypt.base64decode(user), crypt.base64decode(server), crypt.base64decode(password)
	if password ~= "password" then
		socket.write(fd, "401 Unauthorized\n")
		return "unauthorized", secret
	end
	local subid = "42"
	socket.write(fd, "200 " .. crypt.base64encode(subid) .. "\n")
	return string.format("%s@%s", user, server), secret
end

skynet.start(function()
	local results = {}
	local listen_id, _, port = socket.listen("127.0.0.1", 0)
	socket.start(listen_id, function(fd)
		socket.start(fd)
		local ok, who, secret = pcall(auth, fd)
		results[#results + 1] = { ok = ok, who = who, secret = secret and crypt.hexencode(secret) }
		socket.close(fd)
	end)
	local function login(cheat)
		local c = skynet.newservice(SERVICE_NAME, "client", tostring(port), cheat)
		return skynet.call(c, "lua")
	end
	local said, secret = login()
	assert(said == "200 " .. crypt.base64encode("42"), said)
	while #results < 1 do skynet.sleep(1) end
	local r = results[1]
	assert(r.ok and r.who == "alice@sample", tostring(r.who))
	assert(r.secret == secret, "both sides agree on the secret")
	said = login("cheat")
	assert(said == "400 Bad Request", said)
	while #results < 2 do skynet.sleep(1) end
	assert(results[2].ok and results[2].who == "challenge failed")
	skynet.error("PASS")
end)

-- skynet.db.mongo's logins: SCRAM-SHA-1 (RFC 5802, MongoDB's form: the
-- password is first hashed as md5("user:mongo:password") in hex) and the
-- old MONGODB-CR. Each is called with the database to log in to (anything
-- with runCommand), the user and the password, and returns true when the
-- server accepted it.
local skynet = require "skynet"
local crypt = require "skynet.crypt"
local md5 = require "md5"

local hmac, sha1, xor = crypt.hmac_sha1, crypt.sha1, crypt.xor_str
local b64, unb64 = crypt.base64encode, crypt.base64decode

local auth = {}

function auth.auth_mongodb_cr(db, user, password)
	local digest = md5.sumhexa(string.format("%s:mongo:%s", user, password))
	local r = db:runCommand "getnonce"
	if r.ok ~= 1 then
		return false
	end
	local key = md5.sumhexa(string.format("%s%s%s", r.nonce, user, digest))
	r = db:runCommand("authenticate", 1, "user", user, "nonce", r.nonce, "key", key)
	return r.ok == 1
end

-- PBKDF2 with HMAC-SHA-1, one block (20 bytes).
local function hi(password, salt, iterations)
	local u = hmac(password, salt .. "\0\0\0\1")
	local out = u
	for _ = 2, iterations do
		u = hmac(password, u)
		out = xor(out, u)
	end
	return out
end

-- The attributes of a SCRAM message ("r=...,s=...,i=...").
local function attributes(msg)
	local t = {}
	for k, v in string.gmatch(msg, "(%w+)=([^,]*)") do
		t[k] = v
	end
	return t
end

-- Iterations a server may ask for: MongoDB's least for SCRAM-SHA-1 is
-- 4096; far more would only stall the service.
local MAX_ITERATIONS = 1000000

function auth.auth_scram_sha1(db, username, password)
	local user = string.gsub(string.gsub(username, "=", "=3D"), ",", "=2C")
	local nonce = b64(crypt.randomkey())
	local first_bare = "n=" .. user .. ",r=" .. nonce
	local r = db:runCommand("saslStart", 1, "autoAuthorize", 1, "mechanism", "SCRAM-SHA-1", "payload",
		b64("n,," .. first_bare))
	if r.ok ~= 1 then
		return false
	end
	local conversation = r.conversationId
	local server_first = unb64(r.payload)
	local attr = attributes(server_first)
	local iterations, salt, rnonce = tonumber(attr.i), attr.s, attr.r
	if not rnonce or string.sub(rnonce, 1, #nonce) ~= nonce then
		skynet.error("Server returned an invalid nonce.")
		return false
	end
	if not iterations or not salt or iterations < 1 or iterations > MAX_ITERATIONS then
		skynet.error("Server asked for an invalid salt or iteration count.")
		return false
	end
	local without_proof = "c=biws,r=" .. rnonce
	local salted = hi(md5.sumhexa(username .. ":mongo:" .. password), unb64(salt), iterations)
	local client_key = hmac(salted, "Client Key")
	local auth_msg = first_bare .. "," .. server_first .. "," .. without_proof
	local proof = xor(client_key, hmac(sha1(client_key), auth_msg))
	local server_sig = b64(hmac(hmac(salted, "Server Key"), auth_msg))

	r = db:runCommand("saslContinue", 1, "conversationId", conversation, "payload",
		b64(without_proof .. ",p=" .. b64(proof)))
	if r.ok ~= 1 then
		return false
	end
	if attributes(unb64(r.payload)).v ~= server_sig then
		skynet.error("Server returned an invalid signature.")
		return false
	end
	if not r.done then
		r = db:runCommand("saslContinue", 1, "conversationId", conversation, "payload", "")
		if r.ok ~= 1 then
			return false
		end
		if not r.done then
			skynet.error("SASL conversation failed to complete.")
			return false
		end
	end
	return true
end

return auth

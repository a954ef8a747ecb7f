-- skynet.crypt, client.crypt and md5 as a service sees them: known answers
-- computed with skynet's own C modules, and the error strings it raises.
local skynet = require "skynet"
local crypt = require "skynet.crypt"
local ccrypt = require "client.crypt"
local md5 = require "md5"
local md5core = require "md5.core"

local H = crypt.hexencode

local function fails(want, f, ...)
	local ok, err = pcall(f, ...)
	assert(not ok, "expected an error: " .. want)
	assert(type(err) == "string", "errors are strings, got " .. type(err))
	assert(err == want, string.format("error %q, expected %q", err, want))
end

skynet.start(function()
	for _, c in ipairs { crypt, ccrypt } do
		assert(H(c.desencode("12345678", "hello, world")) == "8284d633ce07f0dc357c8076447ccc49")
		assert(H(c.desencode("12345678", "abcdefgh", c.padding.pkcs7)) == "94d4436bc3b5b693feb959b7d4642fcb")
		assert(c.desdecode("12345678", c.hexdecode("8284d633ce07f0dc357c8076447ccc49")) == "hello, world")
		assert(H(c.hashkey("hello")) == "9930920fcbef1867")
		assert(H(c.hashkey(12)) == "c8705900c443a8a4")
		assert(H(c.hmac64("12345678", "abcdefgh")) == "ac9ffda9547a027a")
		assert(H(c.hmac64_md5("12345678", "abcdefgh")) == "c2a34748cf834af4")
		assert(H(c.hmac_hash("12345678", "some text")) == "b9e369d840f4af26")
		assert(H(c.dhexchange("12345678")) == "a18e89af97222f0e")
		assert(H(c.dhsecret("12345678", "abcdefgh")) == "c28f6c29ade90908")
		assert(c.base64encode("\255\254\253\252") == "//79/A==")
		assert(c.base64decode("Z m 9 v") == "foo")
		assert(H(c.sha1("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d")
		assert(H(c.hmac_sha1("key", "The quick brown fox jumps over the lazy dog")) == "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9")
		assert(H(c.xor_str("abcdef", "\1\2")) == "606062666464")
		assert(c.padding.iso7816_4 == 0 and c.padding.pkcs7 == 1)
		local k = c.randomkey()
		assert(#k == 8 and k ~= c.randomkey())
	end
	fails("Invalid key size 7, need 8 bytes", crypt.desencode, "1234567", "x")
	fails("Invalid padding mode 2", crypt.desencode, "12345678", "x", 2)
	fails("Invalid des crypt text length 7", crypt.desdecode, "12345678", "1234567")
	fails("Invalid des crypt text", crypt.desdecode, "12345678", "12345678")
	fails("Invalid uint64 x", crypt.hmac64, "1234567", "12345678")
	fails("Invalid uint64 y", crypt.hmac64, "12345678", "1234567")
	fails("Invalid uint64 key", crypt.hmac_hash, "1234567", "x")
	fails("Invalid dh uint64 key", crypt.dhexchange, "1234567")
	fails("Can't be 0", crypt.dhexchange, "\0\0\0\0\0\0\0\0")
	fails("Can't be 0", crypt.dhsecret, "\0\0\0\0\0\0\0\0", "12345678")
	fails("Invalid base64 text", crypt.base64decode, "AAAA\n")
	fails("Invalid hex text size 3", crypt.hexdecode, "abc")
	fails("Invalid hex text", crypt.hexdecode, "zz")
	fails("Can't xor empty string", crypt.xor_str, "abc", "")
	fails("bad argument #1 to 'skynet.crypt.hashkey' (string expected, got no value)", crypt.hashkey)
	fails("bad argument #3 to 'skynet.crypt.desencode' (number expected, got string)", crypt.desencode, "12345678", "x", "a")

	assert(md5.sumhexa("") == "d41d8cd98f00b204e9800998ecf8427e")
	assert(H(md5core.sum("abc")) == "900150983cd24fb0d6963f7d28e17f72")
	assert(md5.hmacmd5("data", "key") == "9d5c73ef85594d34ec4438b7c97e51d8")
	assert(H(md5.exor("abc", "\1\2\3")) == "606060")
	local c = md5.crypt("hello world, this is longer than 16", "key", "seed")
	assert(H(c) == "0473656564c78025b74eeaf25687f4eaabf911327da70e275df479b8e80e93b267a33bb20dde1f36")
	assert(md5.decrypt(c, "key") == "hello world, this is longer than 16")
	assert(#md5.crypt("abc", "k") == 12)
	assert(md5._VERSION == "MD5 1.2")
	fails("bad argument #2 to 'md5.core.exor' (lengths must be equal)", md5.exor, "ab", "abc")
	fails("key too long (> 256)", md5.crypt, "x", string.rep("k", 257), "s")
	fails("seed too long (> 16)", md5.crypt, "x", "k", string.rep("s", 17))
	fails("bad argument #1 to 'md5.core.decrypt' (invalid cyphered string)", md5.decrypt, "\5abc", "k")
	skynet.error("PASS")
end)

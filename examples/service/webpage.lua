-- Serves the browser version's page on web_port with http.httpd: a
-- terminal that speaks to the game over WebSocket (ws_port; with ?wss in
-- the page's address, over TLS to wss_port).
local skynet = require "skynet"
local socket = require "skynet.socket"
local httpd = require "http.httpd"
local sockethelper = require "http.sockethelper"

local PAGE = [[<!doctype html>
<html><head><meta charset="utf-8"><title>skyhold: the example game</title>
<style>
body { font-family: monospace; background: #111; color: #ddd; margin: 2em; }
#log { white-space: pre-wrap; border: 1px solid #444; padding: 1em; height: 20em; overflow-y: auto; }
input { width: 40em; font-family: monospace; }
</style></head>
<body><h3>skyhold example game</h3>
<div id="log"></div>
<form id="f"><input id="cmd" autofocus placeholder="login alice wonderland, join lobby, say hello, ping, quit"></form>
<script>
const log = document.getElementById("log");
function show(line) { log.textContent += line + "\n"; log.scrollTop = log.scrollHeight; }
const params = new URLSearchParams(location.search);
const url = params.has("wss") ? "wss://" + location.hostname + ":@WSS_PORT@/"
  : "ws://" + location.hostname + ":@WS_PORT@/";
const ws = new WebSocket(url);
// ?play=cmd1;cmd2 plays commands, one after each answer (headless tests)
const play = (params.get("play") || "").split(";").filter((c) => c);
ws.onopen = () => show("* connected to " + url);
ws.onmessage = (ev) => {
  show(ev.data);
  // the keep-alive's answer is not an answer to a played command
  if (ev.data === "pong") return;
  const next = play.shift();
  if (next) { show("> " + next); ws.send(next); }
};
ws.onclose = () => show("* disconnected");
setInterval(() => { if (ws.readyState === 1) ws.send("ping"); }, 10000);
document.getElementById("f").onsubmit = (e) => {
  e.preventDefault();
  const c = document.getElementById("cmd");
  show("> " + c.value); ws.send(c.value); c.value = "";
};
</script></body></html>
]]

local function serve(fd, page)
	socket.start(fd)
	local read, write = sockethelper.readfunc(fd), sockethelper.writefunc(fd)
	local code, url = httpd.read_request(read, 0)
	if code == 200 then
		if url == "/" or url:match("^/%?") then
			httpd.write_response(write, 200, page, { ["content-type"] = "text/html; charset=utf-8" })
		else
			httpd.write_response(write, 404, "not found")
		end
	elseif code then
		httpd.write_response(write, code)
	end
	socket.close(fd)
end

skynet.start(function()
	local page = PAGE:gsub("@WS_PORT@", skynet.getenv "ws_port")
		:gsub("@WSS_PORT@", skynet.getenv "wss_port" or "0")
	local address = skynet.getenv "web_address" or "127.0.0.1"
	local port = tonumber(skynet.getenv "web_port")
	local id = socket.listen(address, port)
	socket.start(id, function(fd)
		skynet.fork(serve, fd, page)
	end)
	skynet.error(string.format("browser page on http://%s:%d/", address, port))
end)

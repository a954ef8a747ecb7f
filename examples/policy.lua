-- The example's policy: the login service may read the player tokens;
-- every other service is an ordinary service.
roles = {
	login = { "read_secrets" },
	-- The browser version's watchdog launches the native gate.
	webwatchdog = { "launch" },
	-- A role may also set its own spawn_rate, spawn_burst and
	-- lua_memory_total (a number, or "unlimited") in place of the node's;
	-- each one that raises a limit is written to the audit log at boot.
	-- The watchdog needs none: the defaults keep up with the gate's
	-- accept rate.
	-- watchdog = { spawn_rate = 5000, spawn_burst = 10000 },
}
services = {
	login = "login",
	webwatchdog = "webwatchdog",
}

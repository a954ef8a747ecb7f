-- The policy of the service_flood threat case: one role starts services in
-- larger bursts than the node allows, and whatever the node's Lua memory.
roles = {
	vip = { spawn_burst = 100, lua_memory_total = "unlimited" },
}
services = {
	service_flood_vip = "vip",
}

-- The example's policy: the login service may read the player tokens;
-- every other service is an ordinary service.
roles = {
	login = { "read_secrets" },
}
services = {
	login = "login",
}

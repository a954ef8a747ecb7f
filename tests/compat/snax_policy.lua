-- Policy for the snax case: the case's own service may hotfix the snax
-- services it starts (hotfix runs source text in them, as debug RUN does).
roles = {
	snax_operator = { "debug_run" },
}
services = {
	snax = "snax_operator",
}

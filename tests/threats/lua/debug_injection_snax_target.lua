-- A snax service for the debug_injection_code_transfer case.
function response.get()
	return "original"
end

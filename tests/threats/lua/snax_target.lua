-- A snax service for the code_transfer case.
function response.get()
	return "original"
end

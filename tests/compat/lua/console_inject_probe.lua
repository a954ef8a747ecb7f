-- Run inside console_victim by the console's inject.
print("INJECTED", 6 * 7, SERVICE_NAME)

"""Components and the config model of the expressroute-dr program."""

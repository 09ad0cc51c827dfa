"""The composition: the CLI, the daemon and its service, the wiring of one pass's dependencies."""

"""The gateway's use cases, one unit each, every one taking its collaborators explicitly (the database sessions, the
bus, the clock, the composer, the registry book…) so that it can be built and tested alone on SQLite and the memory
bus. ``services.shep_gateway.handlers.Gateway`` wires them together for the running service."""

"""The tester's kit: run the mesh locally (``make run``), and drive it from scripts and the CLI."""

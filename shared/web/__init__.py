"""A service's HTTP face: the FastAPI app factory (health, readiness, errors as {code, message}, bounded JSON bodies),
a member service's app, the admin token guard, rate limits and Idempotency-Key. Imports mesh, pki and the root.
"""

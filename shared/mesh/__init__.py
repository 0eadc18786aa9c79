"""The mesh itself: the envelope and the typed contracts, the bus (RabbitMQ and its in-memory twin), topology,
outbox/inbox/consumer, failures and dead letters, the gateway's seal, broker accounts, payload encryption, and a
member system's runtime (identity, enrolment, clock following, readiness). Imports pki and the root modules.
"""

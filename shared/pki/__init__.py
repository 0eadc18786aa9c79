"""Signatures and certificates: canonical JSON (RFC 8785), detached CMS, the НУЦ certificate profile, OCSP and
the certificate check. Imports only the root modules (errors, clock).
"""

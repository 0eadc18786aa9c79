"""НУЦ's use cases, one a module, each built from what it needs (the database's sessions, the clock, the settings,
the CA's keys) so a test can make one alone on SQLite:

- ``keys``: the root and the issuing CA — created on the very first start, loaded on every later one;
- ``issuance``: certificates by the НУЦ profile, for individuals, employees and information systems (from a CSR or
  with keys НУЦ makes, as PKCS#12), and the deliberately faulty ones tests need;
- ``revocation``: revoking a certificate, with a reason;
- ``lookup``: a certificate by serial, certificates by IIN, BIN or member id, those not yet valid;
- ``ocsp``: the OCSP responder's answers (RFC 6960);
- ``crl``: the CRLs, the issuing CA's and the root's.
"""

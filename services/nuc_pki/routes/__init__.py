"""НУЦ's HTTP routes, a module per resource: the CA's own certificates, issuance, revocation, look-up, and status
publication (CRL, OCSP). Issuance, revocation and searches by person need the admin token; the rest is public, as
a real CA's is."""

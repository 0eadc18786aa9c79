"""What every egov-mesh service shares: envelope and contracts, signatures, the bus, time, identifiers."""

"""What every egov-mesh service shares, in layers (docs/architecture.md): employment → web → mesh → pki → the root
modules here (errors, clock, working calendar, logging, db, IIN/BIN)."""

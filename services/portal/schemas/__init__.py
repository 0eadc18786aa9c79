"""The portal's wire shapes: what its routes take (``requests``) and what they answer (the others), every answer a
closed model (``shared.web.models``) with examples, so a client generated from ``/openapi.json`` is typed."""

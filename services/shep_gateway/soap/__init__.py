"""ШЭП's SOAP channels on the gateway: the WSDL it serves (``wsdl``) and the routes (``routes.soap``)."""

"""Adapters to the vendor's own services: service health (Microsoft Graph) and
support requests (Partner Center), over HTTP, in the vendor's documented shapes."""

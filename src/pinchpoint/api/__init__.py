"""The HTTP service: REST, FHIR and CDS Hooks routers over the core."""

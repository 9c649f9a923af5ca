"""The population audit: low-value lumbar imaging and missed warning signs over a FHIR Bulk Data export.

An adapter (it reads files and runs database engines); the reasoning core never imports it. See
:mod:`pinchpoint.audit.run` for the entry point and ``audit.sql`` for the logic.
"""

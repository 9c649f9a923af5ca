"""Input and output at the edge: knowledge folders, case files, free text and FHIR, read into core values."""

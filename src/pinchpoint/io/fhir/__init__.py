"""FHIR R4 adapter: the intake Questionnaire, QuestionnaireResponse <-> case, record Bundles, results.

Uses the ``fhir.resources.R4B`` models (wire-compatible with R4 for the resources used here); every
resource read or written is validated by them, and the codes of required value sets are checked by
:func:`pinchpoint.io.fhir._boundary.check_codes`, which the models do not do.
"""

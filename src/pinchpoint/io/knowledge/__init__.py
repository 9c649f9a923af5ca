"""Reading a knowledge folder: strict YAML, the schema, the cross-references, the compiled cache."""

"""Text measures shared by every stage: one normalisation, one n-gram, embeddings, diversity.

The bottom layer of the package (docs/development.md): generation, validation, preparation and
analysis all import from here, and nothing here imports a stage module.
"""

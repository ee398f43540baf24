"""synthclf: synthetic text-classification data from LLMs, validated, versioned and measured."""

__version__ = "0.1.0"

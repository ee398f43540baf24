"""Shared pytest configuration. Each subsystem keeps its fixtures in its own module, imported here."""

# -- generation (tests/conftest_generation.py) -----------------------------------------------------
from conftest_generation import fault_proxy, gen_project, llama_server  # noqa: F401

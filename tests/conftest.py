"""Shared pytest configuration. Each subsystem keeps its fixtures in its own module, imported here."""

from hypothesis import Phase, settings

# -- generation (tests/conftest_generation.py) -----------------------------------------------------
from conftest_generation import fault_proxy, gen_project, llama_server  # noqa: F401

# -- fuzz tests (tests/test_fuzz_readers.py) -------------------------------------------------------
# `pytest --hypothesis-profile=no-shrink`: a failure reported as found, without minutes of shrinking
settings.register_profile("no-shrink", phases=[Phase.explicit, Phase.reuse, Phase.generate])

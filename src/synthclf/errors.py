"""User-facing errors: one clear line, exit code 2, nothing written."""


class SynthclfError(Exception):
    """A problem the user can fix. The CLI prints the message alone and exits with code 2."""

    exit_code = 2

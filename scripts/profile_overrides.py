"""Print a params profile as `dvc exp run -S` overrides, one per key, checked before they are printed.

    dvc exp run -n paper $(python scripts/profile_overrides.py profiles/paper.yaml)
    python scripts/profile_overrides.py profiles/light.yaml --params params.yaml

A profile (profiles/*.yaml) holds only the params.yaml keys it changes. Each of its keys becomes one
`-S key=value` in Hydra's override syntax (lists as [a,b], mappings as {k:v}), which is how
`dvc exp run` sets params: the experiment records the change, params.yaml keeps its comments, and
`dvc exp show` compares the profile with the default. Before printing, the overrides are applied with
DVC's own code to a temporary copy of params.yaml and the result is validated like every stage
validates it; a key the params do not have, or a value they refuse, is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from compare_experiment import StepError, leaf_paths, load_profile, lookup  # same folder

from synthclf.config import load_params
from synthclf.errors import SynthclfError


def hydra_value(value) -> str:
    """A YAML value in Hydra's override grammar, without spaces (the shell splits $(...) on them)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{key}:{hydra_value(item)}" for key, item in value.items()) + "}"
    text = str(value)
    if any(char.isspace() for char in text) or any(char in text for char in ",[]{}'\""):
        raise StepError(f"value {text!r} cannot be passed as one -S word; set it in params.yaml instead")
    return text


def overrides(profile: dict) -> list[str]:
    return [f"{'.'.join(path)}={hydra_value(lookup(profile, path))}" for path in leaf_paths(profile)]


def check(params_file: Path, settings: list[str]) -> None:
    """Apply the overrides as `dvc exp run -S` would, to a copy, and validate the result."""
    from dvc.utils.hydra import apply_overrides

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "params.yaml"
        shutil.copyfile(params_file, copy)
        try:
            apply_overrides(str(copy), settings)
        except Exception as error:  # noqa: BLE001 - dvc's InvalidArgumentError; the cause names the key
            cause = str(error.__cause__ or error).splitlines()[0]
            raise StepError(f"DVC refuses the profile's overrides: {cause} (a key params.yaml does not have? "
                            "fix its spelling in the profile)") from None
        try:
            load_params(copy)
        except SynthclfError as error:
            raise StepError(f"the profile does not give valid params: {error}".replace(str(copy), "params.yaml")) \
                from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="a profile, e.g. profiles/paper.yaml")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="the params it overrides")
    args = parser.parse_args(argv)
    try:
        settings = overrides(load_profile(args.profile))
        check(args.params, settings)
    except StepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(" ".join(f"-S {setting}" for setting in settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Checking the parameters of a training run against its kind's description.

The run and schedule forms on the model page and the API all go through `params_validate`, so a
bad value gets the same message wherever it was typed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from django.conf import settings

from .kinds import ModelKind, ParamSpec

SETS_ALL = "all"
SETS_NONE = "none"


class ParamsInvalid(ValueError):
    """The parameters cannot be used; `errors` maps each bad parameter to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


def params_validate(kind: ModelKind, params: Any) -> dict[str, Any]:
    """The parameters with their values converted to their types; ParamsInvalid if any is bad.

    Unknown names are refused for a described kind; a kind without a description takes any
    JSON object. An empty value (None or "") means "use the default" and is left out.
    """
    if not isinstance(params, dict):
        raise ParamsInvalid({"params": 'must be a JSON object, e.g. {"epochs": 2}'})
    if kind.params is None:
        return dict(params)
    specs = {spec.name: spec for spec in kind.params}
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None:
            errors[name] = f"unknown parameter; {kind.name} takes {', '.join(sorted(specs))}"
        elif value is None or value == "":
            continue
        else:
            try:
                clean[name] = _converted(spec, value)
            except ValueError as exc:
                errors[name] = str(exc)
    if errors:
        raise ParamsInvalid(errors)
    return clean


def _converted(spec: ParamSpec, value: Any) -> Any:
    if spec.type == "int":
        return _bounded(spec, _int(value))
    if spec.type == "float":
        return _bounded(spec, _float(value))
    if spec.type == "bool":
        return _bool(value)
    if spec.type == "str":
        if not isinstance(value, str):
            raise ValueError(f"must be text, got {value!r}")
        return _server_files(value.strip()) if spec.server_files else value.strip()
    if spec.type == "choice":
        return _choice(spec, value)
    return _ids(spec, value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f"must be a whole number, got {value!r}")


def _float(value: Any) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ValueError(f"must be a number, got {value!r}")
    return number


def _bounded(spec: ParamSpec, number: Any) -> Any:
    low, high = spec.minimum, spec.maximum
    if low is not None:
        if spec.minimum_exclusive and not number > low:
            raise ValueError(f"must be greater than {low:g}, got {number:g}")
        if not spec.minimum_exclusive and number < low:
            raise ValueError(f"must be at least {low:g}, got {number:g}")
    if high is not None:
        if spec.maximum_exclusive and not number < high:
            raise ValueError(f"must be less than {high:g}, got {number:g}")
        if not spec.maximum_exclusive and number > high:
            raise ValueError(f"must be at most {high:g}, got {number:g}")
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "on", "yes", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "off", "no", "0"):
        return False
    raise ValueError(f"must be true or false, got {value!r}")


def _choice(spec: ParamSpec, value: Any) -> Any:
    choices = spec.choices() if spec.choices else []
    for choice, _label in choices:
        if str(choice) == str(value).strip():
            return choice
    known = ", ".join(str(choice) for choice, _ in choices) or "none exist"
    raise ValueError(f"unknown choice {value!r}; the choices are: {known}")


def _ids(spec: ParamSpec, value: Any) -> str | list[int]:
    """ "all" (when the default), or a list of known ids; "none" or "" in a list: no ids."""
    takes_all = spec.default == SETS_ALL
    words = f'"{SETS_ALL}", "{SETS_NONE}" or a list of ids' if takes_all else "a list of ids"
    if isinstance(value, str):
        word = value.strip().lower()
        if word == SETS_ALL and takes_all:
            return SETS_ALL
        if word == SETS_NONE:
            return []
        value = [item for item in value.split(",") if item.strip()]
    if not isinstance(value, list | tuple):
        raise ValueError(f"must be {words}, got {value!r}")
    ids = []
    for item in value:
        try:
            ids.append(_int(item))
        except ValueError:
            raise ValueError(f"must be {words}, got {item!r} in it") from None
    known = {int(choice) for choice, _ in (spec.choices() if spec.choices else [])}
    missing = sorted(set(ids) - known)
    if missing:
        listed = ", ".join(str(i) for i in sorted(known)) or "none"
        raise ValueError(f"no such id: {', '.join(map(str, missing))} (existing ids: {listed})")
    return list(dict.fromkeys(ids))


def _server_files(value: str) -> str:
    """Files named from a page or the API: each inside ML_TRAINING_FILES_DIR (a name alone is
    taken there), returned as absolute paths separated by commas. Anything else on the server,
    other users' uploads or system files, stays out of reach of a training run."""
    root = Path(settings.ML_TRAINING_FILES_DIR).resolve()
    found = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        path = Path(part)
        resolved = (path if path.is_absolute() else root / path).resolve()
        if not resolved.is_relative_to(root):
            raise ValueError(
                f"must name files in the training files folder ({root}); put the file there, "
                "or train from the command line"
            )
        if not resolved.is_file():
            raise ValueError(f"no file {resolved.name!r} in the training files folder ({root})")
        found.append(str(resolved))
    return ",".join(found)

"""Reading YAML config files into frozen, type-checked dataclasses: the machinery every job's
config uses.

The YAML is read with ``yaml.safe_load`` (no value is ever evaluated as code), merged with
dotted ``--set key=value`` overrides, and turned into frozen dataclasses whose annotations
are the schema: unknown keys get a did-you-mean, values are checked against their type.
Value ranges are declared next to the fields they constrain (:func:`checked` with an
:class:`Interval` or :class:`OneOf`, as scikit-learn's ``_parameter_constraints``), and a
section's rules that involve several of its keys are its ``validate(key)`` method; both run
as each section is built. Every problem is a :class:`~segmentation.core.errors.ConfigError`
whose message names the key.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Sweep:
...     k_min: int = checked(2, Interval(2, why="KMeans needs at least 2 clusters"))
...     share: float = checked(0.9, Interval(0, 1, low_open=True))
>>> build_dataclass(Sweep, {"k_min": 3}, "model.").k_min
3
>>> build_dataclass(Sweep, {"k_min": 1}, "model.")
Traceback (most recent call last):
...
segmentation.core.errors.ConfigError: model.k_min=1 must be >= 2 (KMeans needs at least 2 clusters)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, Union, get_args, get_origin, get_type_hints

import yaml

from segmentation.core.errors import ConfigError

OutputMode = Literal["error", "overwrite"]

_REQUIRED = object()


_CONSTRAINT = "constraint"


def required() -> Any:
    """Mark a dataclass field as a key the YAML must provide."""
    return field(default=_REQUIRED)  # type: ignore[arg-type]


class Constraint(Protocol):
    """What a config value must satisfy beyond its type."""

    def check(self, key: str, value: Any) -> None:
        """Raise a ConfigError naming ``key`` when ``value`` breaks the constraint."""


@dataclass(frozen=True)
class Interval:
    """A number between ``low`` and ``high`` (None: unbounded); ``low_open`` excludes ``low``.

    ``why`` is added to the message in parentheses. Values that are not numbers (None, or
    the word ``auto`` of an ``int | Literal["auto"]`` field) are left to the type check.
    """

    low: float
    high: float | None = None
    low_open: bool = False
    why: str = ""

    def check(self, key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        below = value <= self.low if self.low_open else value < self.low
        if below or (self.high is not None and value > self.high):
            limits = [f"{'>' if self.low_open else '>='} {self.low}"]
            if self.high is not None:
                limits.append(f"<= {self.high}")
            why = f" ({self.why})" if self.why else ""
            raise ConfigError(f"{key}={value} must be {' and '.join(limits)}{why}")


@dataclass(frozen=True)
class OneOf:
    """One of ``choices`` (for a set of values defined elsewhere, which a ``Literal`` would
    spell a second time)."""

    choices: tuple[str, ...]

    def check(self, key: str, value: Any) -> None:
        if value not in self.choices:
            raise ConfigError(_not_one_of(key, self.choices, value))


#: A count: at least 1.
POSITIVE = Interval(1)
#: A count that may be 0 (0 usually turns the feature off).
NON_NEGATIVE = Interval(0)


def checked(default: Any, constraint: Constraint) -> Any:
    """A dataclass field with ``default`` whose value must satisfy ``constraint``."""
    return field(default=default, metadata={_CONSTRAINT: constraint})


def check_constraints(section: Any, prefix: str) -> None:
    """Check each field of the dataclass ``section`` against its declared constraint."""
    for f in dataclasses.fields(section):
        constraint = f.metadata.get(_CONSTRAINT)
        if constraint is not None:
            constraint.check(f"{prefix}{f.name}", getattr(section, f.name))


def read_yaml_with_overrides(
    path: str | os.PathLike[str], overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """The YAML mapping of ``path`` with the dotted overrides applied (not yet validated)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ConfigError(f"config file {path} is not valid YAML{at}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping, not {type(data).__name__}")
    for item in overrides:
        apply_override(data, item)
    return data


def apply_override(data: dict[str, Any], item: str) -> None:
    """Set ``a.b.c=value`` in the nested mapping; the value is parsed as YAML (safely)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r} must look like section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {item!r}: value is not valid YAML") from exc
    parts = key.strip().split(".")
    if parts[0] == "spark" and len(parts) > 2:  # Spark settings are dotted names themselves
        parts = ["spark", ".".join(parts[1:])]
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {item!r}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def build_dataclass(cls: type, data: Any, prefix: str) -> Any:
    """Build the frozen dataclass ``cls`` from a mapping and validate it.

    Checks the keys and their types, then the fields' constraints (:func:`checked`), then
    the section's own ``validate(key)`` method, if it has one (rules among its keys).
    """
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping, not {_describe(data)}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else ""
            raise ConfigError(
                f"unknown key {prefix}{key}{hint} (known: {', '.join(sorted(fields))})"
            )
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        if name in data:
            values[name] = _coerce(hints[name], data[name], key)
        elif f.default is _REQUIRED:
            raise ConfigError(f"missing required key {key}")
    section = cls(**values)
    check_constraints(section, prefix)
    validate = getattr(section, "validate", None)
    if validate is not None:
        validate(where)
    return section


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (nested dataclasses built recursively)."""
    origin = get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build_dataclass(tp, {} if value is None else value, key + ".")
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        for arg in args[:-1]:  # several types (``int | str``): the first that fits
            try:
                return _coerce(arg, value, key)
            except ConfigError:
                continue
        return _coerce(args[-1], value, key)
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(_not_one_of(key, allowed, value))
        return value
    if origin is list:
        if value is None:
            return []
        if isinstance(value, str) or not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, not {_describe(value)}")
        (item_tp,) = get_args(tp)
        return [_coerce(item_tp, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, not {_describe(value)}")
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, not {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, not {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, not {_describe(value)}")
        return float(value)
    if tp is str:
        if isinstance(value, (dt.date, dt.datetime)):  # YAML reads an unquoted ISO date
            return value.isoformat()  # as a date: back to its text
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key} must be a non-empty string, not {_describe(value)}")
        return value
    raise TypeError(f"unsupported config annotation {tp!r} for {key}")  # a programming error


def parse_instant(text: str, key: str) -> dt.datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (no zone given means UTC);
    one line naming ``key`` when it is not one."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{key} {text!r} is not an ISO 8601 date or date-time (e.g. 2011-12-10 or "
            "2011-12-10T00:00:00+00:00)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _not_one_of(key: str, allowed: Sequence[Any], value: Any) -> str:
    return f"{key} must be one of {', '.join(map(str, allowed))}, not {value!r}"


def check_paths_apart(source: str, target: str, source_key: str, target_key: str) -> None:
    """Refuse an output that is the input or lies inside it (a rerun would destroy the input)."""
    src, dst = _normalise(source), _normalise(target)
    if src == dst:
        raise ConfigError(f"{target_key} {target!r} is the same path as {source_key}")
    if dst.startswith(src.rstrip("/") + "/"):
        raise ConfigError(f"{target_key} {target!r} lies inside {source_key} {source!r}")
    if src.startswith(dst.rstrip("/") + "/"):
        raise ConfigError(f"{source_key} {source!r} lies inside {target_key} {target!r}")


def _normalise(path: str) -> str:
    if "://" in path and not path.startswith("file://"):
        return path.rstrip("/")
    return os.path.abspath(path.removeprefix("file://"))


def check_unique(what: str, names: list[str]) -> None:
    """No name appears twice in ``names`` (described as ``what`` in the message)."""
    seen = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{what} lists {name!r} twice")
        seen.add(name)

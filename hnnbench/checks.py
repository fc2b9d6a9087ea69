"""Input checks with one message format, shared by the runner, the trainers and the hardware set-up.

A bad value raises ``ConfigError`` naming the key, the value and what is allowed, e.g.
``hidden_width='abc' must be an integer >= 1``. The command line (``cli.py``) reports it as one
line and exit status 2 before any work starts.
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A bad configuration value, found before any work (a ValueError, so callers that catch
    ValueError keep working)."""


def _or_null(null: str | None) -> str:
    return f" (or null: {null})" if null else ""


def integer(name: str, value: Any, minimum: int | None = None, null: str | None = None) -> Any:
    """``value`` if it is an integer >= ``minimum``; with ``null`` (what null means), None too.

    Booleans and floats are refused: ``hidden_width=1.5`` or ``true`` is a typo, not a width.
    """
    if value is None and null:
        return None
    bound = f" >= {minimum}" if minimum is not None else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name}={value!r} must be an integer{bound}{_or_null(null)}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value!r} must be{bound}{_or_null(null)}")
    return value


def number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    null: str | None = None,
) -> Any:
    """``value`` if it is a finite real number within the bounds (``minimum`` inclusive,
    ``above`` and ``below`` strict); with ``null`` (what null means), None too."""
    if value is None and null:
        return None
    bounds = [f">= {minimum}"] if minimum is not None else []
    bounds += [f"> {above}"] if above is not None else []
    bounds += [f"< {below}"] if below is not None else []
    if above is not None and below is not None and minimum is None:
        bound = f" in ({above}, {below})"
    else:
        bound = " and ".join(bounds)
        bound = f" {bound}" if bound else ""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ):
        raise ConfigError(f"{name}={value!r} must be a finite number{bound}{_or_null(null)}")
    if (
        (minimum is not None and value < minimum)
        or (above is not None and value <= above)
        or (below is not None and value >= below)
    ):
        raise ConfigError(f"{name}={value!r} must be{bound}{_or_null(null)}")
    return value


def choice(name: str, value: Any, allowed: Collection[str]) -> str:
    """``value`` if it is one of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; allowed: {sorted(allowed)}")
    return value


def flag(name: str, value: Any) -> bool:
    """``value`` if it is a boolean (Hydra reads ``true``/``false``)."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} must be true or false")
    return value


def text(name: str, value: Any, folder_name: bool = False) -> str:
    """``value`` if it is a non-empty string; with ``folder_name``, one without '/'."""
    if not isinstance(value, str) or not value or (folder_name and "/" in value):
        what = "a folder name (text without '/')" if folder_name else "non-empty text"
        raise ConfigError(f"{name}={value!r} must be {what}")
    return value


def writable_folder(name: str, value: Any) -> Path:
    """The folder ``value``, created if missing, after proving a file can be written in it.

    Writing is the only reliable test: ``os.access`` says yes to root on read-only or virtual
    file systems such as /proc.
    """
    path = Path(text(name, value))
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name}={value!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=path, prefix=".hnnbench-write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        where = f" ({err.filename})" if err.filename else ""
        raise ConfigError(
            f"{name}={value!r} is not a writable folder: {err.strerror or err}{where}"
        ) from err
    return path


def one_line(err: BaseException | str) -> str:
    """An error message on one line, without the context lines Hydra and OmegaConf add
    (``full_key:``, ``object_type=``, carets, the config search path, links to the docs); an
    OmegaConf error names its key first."""
    noise = ("full_key:", "object_type=", "reference_type=", "See https://hydra.cc")
    parts = []
    for line in str(err).splitlines():
        line = line.strip()
        if line.startswith("Config search path"):
            break
        if line.strip("^ ") and not line.startswith(noise):
            parts.append(line.rstrip("."))
    text = "; ".join(parts) or (err if isinstance(err, str) else type(err).__name__)
    key = getattr(err, "full_key", None)
    return f"{key}: {text}" if key else text

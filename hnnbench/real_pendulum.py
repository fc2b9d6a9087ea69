"""The real (measured) pendulum of the standard HNN tasks: the file, its checks, parse and split.

The data are one recording of a real, slightly damped pendulum (Schmidt & Lipson, Science 324:81,
2009, supplementary data), file ``real_pend_h_1.txt``: a header line ``%o v``, then 556 rows
"trial t θ ω" (t = 5 … 99.5 s, Δt = 1/6 s with 10 gaps), CRLF line ends. The original download
link is dead; the file is fetched once with pooch from a pinned commit of a public repository
that redistributes the archive (``ARCHIVE_URL``, sha256 ``ARCHIVE_SHA256``), extracted into the
user's cache folder (``pooch.os_cache('hnnbench')``, e.g. ``~/.cache/hnnbench`` on Linux) and
checked against ``FILE_SHA256`` on every use.

Where the file comes from, first match wins: ``data.path=FILE``, the environment variable
``HNNBENCH_REAL_PENDULUM=FILE`` (offline machines, tests, CI), the cached copy, a download. A
file whose sha256 differs is refused in one line and never read; no file and no network ends
the command before any work with one line saying where to put it (``ConfigError``, exit 2).

As published (``published_split``): (q, p) = (θ, ω); targets are forward differences
(x_{i+1} − x_i) / (t_{i+1} − t_i), the last row dropped (555 rows); rows [int(0.8 n),
int(0.8 n) + int(0.2 n)) are the test set — [444, 554), the last, smaller-amplitude part —
and every other row trains (445 rows, row 554 included).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hnnbench.checks import ConfigError, one_line

FILE_NAME = "real_pend_h_1.txt"
FILE_SHA256 = "45d92988198b89a5933f5a53e67aa819d06937516f71a462ac09e1307d8b3411"
ARCHIVE_NAME = "invar_datasets.zip"
ARCHIVE_URL = (
    "https://github.com/Physics-aware-AI/Symplectic-ODENet/raw/"
    "5e83faf93e8f4990e63821c49d0ce5926a96cc94/experiment-real/invar_datasets.zip"
)
ARCHIVE_SHA256 = "9794ee02f45403f87b739cc235a046bd424a73b8222067165f66463cef57be59"
PATH_ENV = "HNNBENCH_REAL_PENDULUM"
#: the published split: the first TRAIN_FRACTION of the rows train, then a test block
TRAIN_FRACTION = 0.8


def cache_dir() -> Path:
    """The user's cache folder for hnnbench (pooch's ``os_cache``: XDG on Linux)."""
    import pooch  # only where the real data are asked for

    return Path(pooch.os_cache("hnnbench"))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verified(path: Path, origin: str) -> Path:
    """``path`` when it is the published file; a ConfigError in one line when it is missing or
    its sha256 differs (it is then never read)."""
    if not path.is_file():
        raise ConfigError(f"{origin}={path}: no such file; allowed: the file {FILE_NAME} "
                          f"(sha256 {FILE_SHA256})")  # fmt: skip
    digest = sha256_of(path)
    if digest != FILE_SHA256:
        raise ConfigError(
            f"{origin}={path} has sha256 {digest}, not the published {FILE_NAME}'s "
            f"{FILE_SHA256}: refused (a different or altered file)"
        )
    return path


def locate(path: str | None = None) -> Path:
    """The verified data file: ``path`` (``data.path``), else ``$HNNBENCH_REAL_PENDULUM``, else
    the cached copy, else a download into the cache (module docstring)."""
    if path:
        return verified(Path(path).expanduser(), "data.path")
    if os.environ.get(PATH_ENV):
        return verified(Path(os.environ[PATH_ENV]).expanduser(), PATH_ENV)
    cached = cache_dir() / FILE_NAME
    if not cached.is_file():
        download(cached)
    return verified(cached, "the cached copy")


def download(target: Path) -> None:
    """Fetch the pinned archive (sha256-checked by pooch) and extract the file to ``target``;
    any failure (no network, a changed archive) is one line saying where to put the file."""
    import pooch

    try:
        members = pooch.retrieve(
            ARCHIVE_URL,
            known_hash=f"sha256:{ARCHIVE_SHA256}",
            fname=ARCHIVE_NAME,
            path=target.parent,
            processor=pooch.Unzip(members=[FILE_NAME]),
            progressbar=False,
        )
        extracted = next(Path(m) for m in members if Path(m).name == FILE_NAME)
        shutil.copyfile(extracted, target)
    except Exception as err:  # pooch raises requests', OSError, ValueError (hash), ...
        raise ConfigError(
            f"the real-pendulum data are not cached and could not be downloaded "
            f"({type(err).__name__}: {one_line(err)}); put {FILE_NAME} (sha256 {FILE_SHA256}) "
            f"at {target}, or pass data.path=FILE or set {PATH_ENV}=FILE"
        ) from err


def read_measurements(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(t (N,), x = (θ, ω) (N, 2)) from the file: '%' header lines skipped, 4 columns a row
    (trial, t, θ, ω), times strictly increasing; a ValueError naming what is wrong otherwise."""
    try:
        rows = np.loadtxt(path, comments="%", ndmin=2)
    except ValueError as err:
        raise ValueError(f"{path}: not rows of numbers ({one_line(err)})") from err
    if rows.shape[1] != 4 or len(rows) < 3:
        raise ValueError(
            f"{path}: {rows.shape[0]} rows of {rows.shape[1]} columns; expected at least 3 rows "
            "of 4 (trial, t, θ, ω)"
        )
    t = rows[:, 1]
    if not np.all(np.diff(t) > 0):
        raise ValueError(f"{path}: the times (column 2) do not increase strictly")
    return t, rows[:, 2:4]


@dataclass(frozen=True)
class RealSplit:
    """The published split of the measured pendulum."""

    x_train: np.ndarray  # (N_train, 2)
    xdot_train: np.ndarray
    x_test: np.ndarray  # (N_test, 2), in time order
    xdot_test: np.ndarray
    t_test: np.ndarray  # (N_test,)


def published_split(t: np.ndarray, x: np.ndarray) -> RealSplit:
    """Forward differences, last row dropped, then the test block [a, b) with
    a = int(0.8 n), b = a + int(0.2 n) (the published code's float arithmetic)."""
    xdot = (x[1:] - x[:-1]) / (t[1:] - t[:-1])[:, None]
    x, t = x[:-1], t[:-1]
    n = len(x)
    start = int(n * TRAIN_FRACTION)
    stop = start + int(n * (1 - TRAIN_FRACTION))
    train = np.r_[0:start, stop:n]
    return RealSplit(
        x_train=x[train],
        xdot_train=xdot[train],
        x_test=x[start:stop],
        xdot_test=xdot[start:stop],
        t_test=t[start:stop],
    )

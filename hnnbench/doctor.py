"""``hnnbench doctor`` (also ``hnnbench-doctor``): is this machine fit to benchmark on, right now?

Reads what decides whether timings and energy can be trusted — the load other processes put on
the cores (measured over a short window, not only the lagging load average), hypervisor steal,
the CPU model, frequency governor, threads, BLAS and OpenMP libraries (threadpoolctl), a float64
DGEMM rate (median of 3), free memory, RAPL / NVML readability and the GPU — and prints what to fix
before benchmarking. ``--json PATH`` writes the summary (``make bench``, ``make claims`` and
``make paper*`` keep it beside their records and every report prints it in its provenance);
``--refuse-busy`` exits 3 on a busy machine instead of only warning.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from hnnbench.timing import SLACK_CORES, STEAL_CORES, proc_stat_seconds

DOCTOR_FILE = "doctor.json"
#: exit status of ``--refuse-busy`` on a busy machine
BUSY_EXIT = 3


def read_text(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def background_load(window: float) -> dict[str, float | None]:
    """Cores other processes kept busy, and steal, over ``window`` seconds while this one sleeps."""
    busy0, steal0 = proc_stat_seconds()
    time.sleep(window)
    busy1, steal1 = proc_stat_seconds()
    if busy0 is None or busy1 is None or steal0 is None or steal1 is None:
        return {"others_cores": None, "steal_cores": None}
    return {"others_cores": (busy1 - busy0) / window, "steal_cores": (steal1 - steal0) / window}


def memory_gib() -> dict[str, float | None]:
    """MemTotal and MemAvailable from /proc/meminfo, in GiB."""
    values: dict[str, float | None] = {"total_gib": None, "available_gib": None}
    for line in (read_text("/proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        name = {"MemTotal": "total_gib", "MemAvailable": "available_gib"}.get(key)
        if name:
            values[name] = int(rest.split()[0]) / 2**20
    return values


def rapl_readable() -> bool:
    """Whether codecarbon could read RAPL energy counters (else it estimates from TDP)."""
    root = Path("/sys/class/powercap")
    return any(os.access(p, os.R_OK) for p in root.glob("intel-rapl:*/energy_uj"))


def nvml_state() -> str:
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return "pynvml not installed"
    try:
        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
        pynvml.nvmlShutdown()
        return f"readable ({count} GPU(s))"
    except Exception as err:  # no driver: NVMLError_LibraryNotFound and friends
        return f"not readable ({type(err).__name__})"


def dgemm_median(threads: int, repeats: int = 3) -> float:
    """Median float64 DGEMM rate over ``repeats`` measurements (hardware.dgemm_gflops is cached
    per process, so each measurement here is taken afresh)."""
    from hnnbench.hardware import DGEMM_N, dgemm_gflops

    rates = [dgemm_gflops.__wrapped__(threads, DGEMM_N) for _ in range(repeats)]
    return statistics.median(rates)


def diagnose(window: float = 1.0, dgemm: bool = True) -> dict[str, Any]:
    """Everything the doctor looks at, as a JSON-able dict (measured now)."""
    import torch
    from threadpoolctl import threadpool_info

    from hnnbench.hardware import cpu_model

    cores = os.cpu_count() or 1
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    load = background_load(window)
    freq = read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
    return {
        "checked_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpu_model": cpu_model(),
        "cores": cores,
        "cores_usable": affinity,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "window_s": window,
        **load,
        "governor": read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "frequency_mhz": int(freq) / 1000 if freq and freq.isdigit() else None,
        "threadpools": [
            {k: lib.get(k) for k in ("user_api", "internal_api", "version", "num_threads")}
            for lib in threadpool_info()
        ],
        "torch_threads": torch.get_num_threads(),
        "dgemm_gflops": dgemm_median(affinity) if dgemm else None,
        "memory": memory_gib(),
        "rapl_readable": rapl_readable(),
        "nvml": nvml_state(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def is_busy(diagnosis: dict[str, Any]) -> bool:
    """Other processes or the hypervisor took CPU during the window (timing.py's thresholds)."""
    others = diagnosis.get("others_cores")
    steal = diagnosis.get("steal_cores")
    return (others is not None and others > SLACK_CORES) or (
        steal is not None and steal > STEAL_CORES
    )


def advice(diagnosis: dict[str, Any]) -> list[str]:
    """What to fix before benchmarking; empty when nothing."""
    out = []
    others, steal = diagnosis.get("others_cores"), diagnosis.get("steal_cores")
    if others is not None and others > SLACK_CORES:
        out.append(
            f"BUSY: other processes kept {others:.2f} cores busy over {diagnosis['window_s']:g} s "
            "— stop them (or expect runs flagged contended); timings and energy will be off"
        )
    if steal is not None and steal > STEAL_CORES:
        out.append(f"STEAL: the hypervisor took {steal:.2f} cores; use a dedicated machine")
    governor = diagnosis.get("governor")
    if governor not in (None, "performance"):
        out.append(
            f"governor is {governor!r}: set 'performance' (cpupower frequency-set -g "
            "performance) so the clock does not ramp during short fits"
        )
    if diagnosis.get("cores_usable", 0) < diagnosis.get("cores", 0):
        out.append(
            f"this process may use {diagnosis['cores_usable']} of {diagnosis['cores']} cores "
            "(CPU affinity): runs asking for more threads oversubscribe them"
        )
    memory = diagnosis.get("memory") or {}
    total, available = memory.get("total_gib"), memory.get("available_gib")
    if total and available is not None and available < 0.5 * total:
        out.append(f"only {available:.1f} of {total:.1f} GiB memory free")
    if not diagnosis.get("rapl_readable"):
        out.append(
            "RAPL counters not readable: energy will be codecarbon's estimate (load × TDP), "
            "so energy claims read 'not measured'; CPU-seconds are recorded as the proxy"
        )
    return out


def summary_rows(diagnosis: dict[str, Any]) -> list[tuple[str, str]]:
    """(item, value) lines for the terminal and the report's provenance."""

    def number(value: Any, digits: str = ".2f") -> str:
        return "n/a" if value is None else format(value, digits)

    memory = diagnosis.get("memory") or {}
    pools = ", ".join(
        f"{p['internal_api']} {p.get('version') or ''} × {p['num_threads']}".replace("  ", " ")
        for p in diagnosis.get("threadpools", [])
    )
    load = diagnosis.get("load_average")
    return [
        ("checked at", str(diagnosis.get("checked_at"))),
        (
            "CPU",
            f"{diagnosis.get('cpu_model')} ({diagnosis.get('cores')} cores, "
            f"{diagnosis.get('cores_usable')} usable)",
        ),  # fmt: skip
        ("load average 1/5/15 min", " / ".join(number(v) for v in load) if load else "n/a"),
        (
            f"other processes over {diagnosis.get('window_s')} s",
            f"{number(diagnosis.get('others_cores'))} cores",
        ),  # noqa: E501
        ("steal", f"{number(diagnosis.get('steal_cores'))} cores"),
        (
            "governor / frequency",
            f"{diagnosis.get('governor') or 'n/a'} / "
            f"{number(diagnosis.get('frequency_mhz'), '.0f')} MHz",
        ),  # fmt: skip
        ("thread pools (threadpoolctl)", pools or "none loaded"),
        ("torch threads", str(diagnosis.get("torch_threads"))),
        ("float64 DGEMM (median of 3)", f"{number(diagnosis.get('dgemm_gflops'), '.1f')} GFLOP/s"),
        (
            "memory free / total",
            f"{number(memory.get('available_gib'), '.1f')} / "
            f"{number(memory.get('total_gib'), '.1f')} GiB",
        ),  # fmt: skip
        ("RAPL", "readable" if diagnosis.get("rapl_readable") else "not readable"),
        ("NVML", str(diagnosis.get("nvml"))),
        ("GPU", str(diagnosis.get("gpu") or "none")),
        ("verdict", "BUSY" if is_busy(diagnosis) else "idle"),
    ]


def render(diagnosis: dict[str, Any]) -> str:
    rows = summary_rows(diagnosis)
    width = max(len(k) for k, _ in rows)
    lines = ["hnnbench doctor", *(f"  {k:<{width}}  {v}" for k, v in rows)]
    tips = advice(diagnosis)
    lines.append("fix before benchmarking:" if tips else "nothing to fix: fit to benchmark")
    lines += [f"  - {tip}" for tip in tips]
    return "\n".join(lines)


def load(path: Path) -> dict[str, Any] | None:
    """A saved diagnosis, or None when absent or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def check_before(out: Path, refuse_busy: bool, tag: str) -> int:
    """Run the doctor before a pipeline: print it, save it under ``out``; BUSY_EXIT when the
    machine is busy and ``refuse_busy``, else 0 (a warning only)."""
    diagnosis = diagnose()
    print(render(diagnosis), file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    (out / DOCTOR_FILE).write_text(json.dumps(diagnosis, indent=1))
    if is_busy(diagnosis):
        if refuse_busy:
            print(f"[{tag}] refused: the machine is busy (--refuse-busy)", file=sys.stderr)
            return BUSY_EXIT
        print(f"[{tag}] WARNING: busy machine; contended runs will be flagged", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hnnbench doctor", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="also write the summary to this file")
    parser.add_argument("--window", type=float, default=1.0, help="seconds to watch the load")
    parser.add_argument("--no-dgemm", action="store_true", help="skip the DGEMM rate")
    parser.add_argument(
        "--refuse-busy", action="store_true", help=f"exit {BUSY_EXIT} on a busy machine"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.window > 0:
        parser().error(f"--window={args.window} must be > 0 seconds")
    diagnosis = diagnose(args.window, dgemm=not args.no_dgemm)
    print(render(diagnosis))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(diagnosis, indent=1))
    return BUSY_EXIT if args.refuse_busy and is_busy(diagnosis) else 0


if __name__ == "__main__":
    sys.exit(main())

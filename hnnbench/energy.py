"""Energy of a code block with codecarbon's OfflineEmissionsTracker (never the online tracker).

codecarbon swallows its own exceptions and ``stop()`` may return None; both become a recorded
failure (energy null plus a reason), never a crash. ``energy_method`` says how the figure was
obtained: ``rapl`` (readable RAPL counters), ``nvml`` (GPU counters taken part), otherwise
``estimated`` (codecarbon modelled power from CPU load and TDP: a model, not a measurement).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class EnergyReading:
    energy_kwh: float | None = None
    co2_kg: float | None = None
    energy_method: str | None = None
    energy_error: str | None = None
    hardware: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def per_fit(self, repeats: int) -> EnergyReading:
        """The reading of ``repeats`` identical fits, as the energy of one."""
        if repeats == 1:
            return self
        return EnergyReading(
            None if self.energy_kwh is None else self.energy_kwh / repeats,
            None if self.co2_kg is None else self.co2_kg / repeats,
            self.energy_method,
            self.energy_error,
            self.hardware,
        )


def energy_method_of(tracker: Any) -> tuple[str, str]:
    """('rapl' | 'nvml' | 'estimated', description of the tracked hardware)."""
    hardware = list(getattr(tracker, "_hardware", []) or [])
    names = [
        type(h).__name__ + (f"({getattr(h, '_mode', '')})" if hasattr(h, "_mode") else "")
        for h in hardware
    ]
    if any(type(h).__name__ == "GPU" for h in hardware):
        method = "nvml"
    elif any(getattr(h, "_mode", None) == "intel_rapl" for h in hardware):
        method = "rapl"
    else:
        method = "estimated"
    return method, ", ".join(names)


class EnergyMeter:
    """Context manager: ``with EnergyMeter(dir, country) as meter: ...; meter.reading``."""

    def __init__(
        self, output_dir: str | Path, country_iso_code: str = "USA", enabled: bool = True
    ) -> None:
        self.output_dir = Path(output_dir)
        self.country_iso_code = country_iso_code
        self.enabled = enabled
        self.reading = EnergyReading(energy_error=None if enabled else "energy tracking disabled")
        self._tracker: Any = None

    def __enter__(self) -> EnergyMeter:
        if not self.enabled:
            return self
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            from codecarbon import OfflineEmissionsTracker
            from codecarbon.output_methods.base_output import OutputMethod

            logging.getLogger("codecarbon").setLevel(logging.ERROR)  # set after its import

            self._tracker = OfflineEmissionsTracker(
                country_iso_code=self.country_iso_code,
                output_dir=str(self.output_dir),
                output_methods=[OutputMethod.CSV],
                log_level=logging.ERROR,
                allow_multiple_runs=True,
            )
            self._tracker.start()
        except Exception as err:  # codecarbon or its config is broken: record, don't crash
            self._tracker = None
            self.reading.energy_error = f"tracker failed to start: {type(err).__name__}: {err}"
        return self

    def restart(self) -> None:
        """Discard what was metered so far and start metering afresh (the runner does this when
        a short first fit becomes the warm-up of repeated fits)."""
        self.__exit__()
        self.reading = EnergyReading(
            energy_error=None if self.enabled else self.reading.energy_error
        )
        self.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        if self._tracker is None:
            return
        try:
            emissions = self._tracker.stop()
            data = getattr(self._tracker, "final_emissions_data", None)
            energy = getattr(data, "energy_consumed", None)
            if emissions is None or energy is None:
                self.reading.energy_error = "codecarbon returned no emissions data"
                return
            method, hardware = energy_method_of(self._tracker)
            self.reading = EnergyReading(float(energy), float(emissions), method, None, hardware)
        except Exception as err:
            self.reading.energy_error = f"tracker failed to stop: {type(err).__name__}: {err}"


def codecarbon_environment() -> dict[str, str]:
    """CODECARBON_* variables in effect (they change what codecarbon does)."""
    return {k: v for k, v in os.environ.items() if k.startswith("CODECARBON_")}

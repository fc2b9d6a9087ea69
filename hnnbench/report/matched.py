"""Matched-accuracy comparison of sampled and backprop training (pure functions on frame + records).

A *problem* is one system, case (parameters; domain) and number of training points. On it:

* the **sampled ladder**: every sampled configuration (method, device, width, trainer setup),
  with the median and min–max over seeds of its test rel-L2(H), training time and energy;
* the **backprop baselines**: one per method and device (``adam``, ``adam_tuned``, ``lbfgs``,
  ``adam (cuda)``, …). Runs of a baseline at several learning rates (or widths, or budgets) are a
  *tuning search*: the configuration with the best median final error is the baseline (generous
  to backprop; a diverged seed counts as an infinite error), the others are reported as tuning
  cost and never charged to either side.

Comparisons, one value per backprop seed, then median and min–max over seeds (``Spread``):

* ``speedup_at_best``: the seed's best error (minimum of its learning curve) and the time it took
  to first reach it; the CHEAPEST sampled configuration (median time) whose median error is at or
  below it; speed-up = that time / the sampled median time, energy ratio likewise (backprop's
  energy is metered over the whole fit, so it is charged the run's average power × the seconds to
  the error). The ladder is discrete, so the cheapest *tested* configuration is used: conservative.
* ``time_to_ladder``: for every sampled configuration, when each baseline seed first reached its
  median error; "not reached within T s" gives a LOWER bound ≥ T / t, never a point value.
* ``equal_time``: backprop's best error over the best sampled median error among configurations
  at most as slow as the backprop run.

Ties are broken deterministically: cheapest by (median time, median error, method, device, width,
setup); most accurate by (median error, median time, …); a baseline by (score, median time, lr,
width, setup).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from hnnbench.report.document import fmt
from hnnbench.report.frame import as_float

PROBLEM = ["system", "case", "train_points"]
CONFIG = ["method", "device", "hidden_width", "lr", "setup"]
PAPER_METHOD = "adam"  # the paper's protocol
ERROR = "test_H_rel_l2"  # the error both sides are matched on unless a caller names another

Kind = Literal["exact", "at_least", "unreached"]
_KIND_ORDER = {"unreached": 0, "exact": 1, "at_least": 2}


# ---------------------------------------------------------------- censored numbers


@dataclass(frozen=True)
class Estimate:
    """A number that is exact, only a lower bound (``at_least``), or missing because a target
    was never reached (``unreached``, value NaN). Larger is better for sampling wherever
    estimates are ranked; an unreached one ranks lowest."""

    value: float
    kind: Kind = "exact"

    def sort_key(self) -> tuple[float, int]:
        value = -math.inf if self.kind == "unreached" else self.value
        return value, _KIND_ORDER[self.kind]

    def text(self, unit: str = "", unreached: str = "not reached") -> str:
        if self.kind == "unreached":
            return unreached
        return ("≥ " if self.kind == "at_least" else "") + fmt(self.value) + unit

    def at_or_above(self, threshold: float) -> bool:
        """Known to be ≥ threshold (an exact value or a lower bound at or above it)."""
        return self.kind != "unreached" and self.value >= threshold

    def below(self, threshold: float) -> bool:
        """Known to be < threshold (only an exact value can say so)."""
        return self.kind == "exact" and self.value < threshold


UNREACHED = Estimate(math.nan, "unreached")


@dataclass(frozen=True)
class Spread:
    """Median and min–max over seeds of estimates."""

    median: Estimate
    low: Estimate
    high: Estimate
    count: int

    def text(self, unit: str = "", unreached: str = "not reached") -> str:
        median = self.median.text(unit, unreached)
        if self.count < 2 or self.low == self.high:
            return median
        return f"{median} [{self.low.text('', 'n/r')}–{self.high.text('', 'n/r')}]"


def spread_of(estimates: Iterable[Estimate]) -> Spread | None:
    """Median and min–max of censored values; None when there are none.

    The median is a lower bound when a lower bound sits at or below its (upper) middle position,
    since its true value may be larger; it is unreached when its (lower) middle entry is. The
    maximum is a lower bound whenever any entry is one.
    """
    ordered = sorted(estimates, key=Estimate.sort_key)  # stable: ties keep their input order
    n = len(ordered)
    if n == 0:
        return None
    lower, upper = ordered[(n - 1) // 2], ordered[n // 2]
    if lower.kind == "unreached":
        median = UNREACHED
    else:
        censored = any(e.kind == "at_least" for e in ordered[: n // 2 + 1])
        median = Estimate((lower.value + upper.value) / 2, "at_least" if censored else "exact")
    reached = [e for e in ordered if e.kind != "unreached"]
    if not reached:
        high = UNREACHED
    else:
        kind: Kind = "at_least" if any(e.kind == "at_least" for e in reached) else "exact"
        high = Estimate(max(e.value for e in reached), kind)
    return Spread(median, ordered[0], high, n)


def quotient(numerator: float, denominator: float) -> Estimate:
    """numerator / denominator as an exact estimate (0/0 = 1, x/0 = inf); unreached on NaN."""
    if math.isnan(numerator) or math.isnan(denominator):
        return UNREACHED
    if denominator == 0:
        return Estimate(1.0 if numerator == 0 else math.inf)
    return Estimate(numerator / denominator)


# ---------------------------------------------------------------- learning curves


def curve_of(record: Mapping[str, Any], metric: str = ERROR) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, ``metric``) of a learning curve, non-finite errors as inf."""
    points = record.get("learning_curve") or []
    seconds = np.array([as_float(p.get("seconds")) for p in points], dtype=float)
    errors = np.array([as_float(p.get(metric)) for p in points], dtype=float)
    return seconds, np.where(np.isfinite(errors), errors, np.inf)


def time_to_reach(seconds: np.ndarray, errors: np.ndarray, target: float) -> float:
    """First time the curve is at or below ``target``; inf when never."""
    hits = np.nonzero(errors <= target)[0]
    return float(seconds[hits[0]]) if hits.size else math.inf


@dataclass(frozen=True)
class Run:
    """One complete backprop run of a baseline: its curve, budget and energy."""

    seed: int
    seconds: np.ndarray
    errors: np.ndarray
    train_time: float  # the training clock (learning-curve evaluations excluded)
    wall_time: float  # the metered fit (evaluations included)
    energy_kwh: float
    energy_method: str | None

    @property
    def best_error(self) -> float:
        return float(self.errors.min())

    @property
    def time_to_best(self) -> float:
        return time_to_reach(self.seconds, self.errors, self.best_error)

    @property
    def budget(self) -> float:
        """The training seconds the run had: its clock, else its last curve point."""
        return self.train_time if math.isfinite(self.train_time) else float(self.seconds[-1])

    def energy_until(self, seconds: float) -> float:
        """The energy charged for ``seconds`` of training: average power over the metered fit
        × seconds (so the evaluations' share is not charged to backprop)."""
        wall = self.wall_time if self.wall_time > 0 else self.train_time
        return self.energy_kwh * seconds / wall if wall > 0 else math.nan


def run_of(row: Mapping[str, Any], record: Mapping[str, Any], metric: str = ERROR) -> Run | None:
    """A ``Run`` from a frame row and its record; a run whose learning curve does not follow
    ``metric`` is one point (its training time, its final error). None when there is nothing to
    compare."""
    seconds, errors = curve_of(record, metric)
    if not np.isfinite(errors).any():
        seconds, errors = np.array([row["train_time_s"]]), np.array([row[metric]])
    keep = np.isfinite(seconds)
    if not keep.any() or not np.isfinite(errors[keep]).any():
        return None
    return Run(
        seed=int(row["seed"]) if row["seed"] is not pd.NA else -1,
        seconds=seconds[keep],
        errors=errors[keep],
        train_time=float(row["train_time_s"]),
        wall_time=float(row["fit_wall_time_s"]),
        energy_kwh=float(row["energy_kwh"]),
        energy_method=row["energy_method"],
    )


def median_curve(runs: Sequence[Run]) -> tuple[np.ndarray, ...]:
    """(seconds, median, min, max) over runs of their learning curves on the union of their
    evaluation times; a run counts from its first to its last point (the error held between
    evaluations)."""
    grid = np.unique(np.concatenate([r.seconds for r in runs])) if runs else np.array([])
    stacked = np.full((len(runs), grid.size), np.nan)
    for i, run in enumerate(runs):
        order = np.argsort(run.seconds, kind="stable")
        seconds, errors = run.seconds[order], run.errors[order]
        position = np.searchsorted(seconds, grid, side="right") - 1
        inside = (position >= 0) & (grid <= seconds[-1])
        stacked[i, inside] = errors[position[inside]]
    if not grid.size:
        return grid, grid, grid, grid
    # every grid time is some run's evaluation time, so no column is all NaN
    return (
        grid,
        np.nanmedian(stacked, axis=0),
        np.nanmin(stacked, axis=0),
        np.nanmax(stacked, axis=0),
    )


# ---------------------------------------------------------------- configurations


def baseline_label(method: str, device: str) -> str:
    return method if device == "cpu" else f"{method} ({device})"


def config_label(row: Mapping[str, Any]) -> str:
    """'aswim w=200', 'adam w=500 lr=0.001', with the device when it is not the CPU."""
    text = f"{baseline_label(row['method'], row['device'])} w={fmt(row['hidden_width'])}"
    return text if math.isnan(as_float(row["lr"])) else f"{text} lr={fmt(row['lr'])}"


def unique_labels(configs: pd.DataFrame) -> pd.DataFrame:
    """Number repeated labels (configurations that differ only in their trainer setup, e.g. the
    solver) by their setup's order, so every label names one configuration."""
    repeated = configs["label"].duplicated(keep=False)
    if repeated.any():
        order = {setup: i for i, setup in enumerate(sorted(set(configs["setup"])), start=1)}
        configs.loc[repeated, "label"] = [
            f"{label} (setup {order[setup]})"
            for label, setup in zip(
                configs.loc[repeated, "label"], configs.loc[repeated, "setup"], strict=True
            )
        ]
    return configs


def _median(values: pd.Series) -> tuple[float, float, float]:
    array = values.to_numpy(dtype=float)
    array = array[~np.isnan(array)]
    if not array.size:
        return math.nan, math.nan, math.nan
    return float(np.median(array)), float(array.min()), float(array.max())


LADDER_ORDER = ["time_median", "error_median", "method", "device", "hidden_width", "setup"]
ACCURACY_ORDER = ["error_median", "time_median", "method", "device", "hidden_width", "setup"]


def ladder_of(rows: pd.DataFrame, metric: str = ERROR) -> pd.DataFrame:
    """The sampled configurations of one problem (complete runs), cheapest first."""
    complete = rows[(rows["trainer"] == "sampled") & (rows["status"] == "ok")]
    out = []
    for key, runs in complete.groupby(CONFIG, dropna=False, sort=False):
        row: dict[str, Any] = dict(zip(CONFIG, key, strict=True))
        row["label"] = config_label(row)
        row["seeds"] = len(runs)
        for name, column in (
            ("error", metric),
            ("time", "train_time_s"),
            ("energy", "energy_kwh"),
        ):
            row[f"{name}_median"], row[f"{name}_min"], row[f"{name}_max"] = _median(runs[column])
        row["energy_methods"] = sorted(set(runs["energy_method"].fillna("none")))
        out.append(row)
    if not out:
        return pd.DataFrame(columns=[*CONFIG, "label", "seeds", "error_median", "time_median"])
    ladder = unique_labels(pd.DataFrame(out))
    ladder = ladder[np.isfinite(ladder["error_median"]) & np.isfinite(ladder["time_median"])]
    return ladder.sort_values(LADDER_ORDER, kind="stable").reset_index(drop=True)


def cheapest_reaching(ladder: pd.DataFrame, target: float) -> pd.Series | None:
    """The sampled configuration with the lowest median time whose median error ≤ target."""
    hits = ladder[ladder["error_median"] <= target]
    return None if hits.empty else hits.sort_values(LADDER_ORDER, kind="stable").iloc[0]


def most_accurate_within(ladder: pd.DataFrame, seconds: float) -> pd.Series | None:
    """The sampled configuration with the lowest median error and median time ≤ seconds."""
    hits = ladder[ladder["time_median"] <= seconds]
    return None if hits.empty else hits.sort_values(ACCURACY_ORDER, kind="stable").iloc[0]


def backprop_configs(rows: pd.DataFrame, metric: str = ERROR) -> pd.DataFrame:
    """The backprop configurations of one problem: runs, score and cost, best first per baseline.

    Score: median final test error over seeds, a diverged run counting as inf (failed runs are
    crashes, not training outcomes, and are left out)."""
    backprop = rows[(rows["trainer"] == "backprop") & rows["status"].isin(["ok", "diverged"])]
    out = []
    for key, runs in backprop.groupby(CONFIG, dropna=False, sort=False):
        row: dict[str, Any] = dict(zip(CONFIG, key, strict=True))
        row["baseline"] = baseline_label(row["method"], row["device"])
        row["label"] = config_label(row)
        errors = np.where(runs["status"] == "ok", runs[metric], math.inf)
        errors = np.where(np.isnan(errors), math.inf, errors)
        row["score"] = float(np.median(errors))
        row["time_median"] = _median(runs["train_time_s"])[0]
        row["runs"] = len(runs)
        row["ok"] = int((runs["status"] == "ok").sum())
        row["seconds"] = float(np.nansum(runs["train_time_s"].to_numpy(dtype=float)))
        row["idx"] = runs["idx"].tolist()
        out.append(row)
    if not out:
        return pd.DataFrame(columns=[*CONFIG, "baseline", "score", "runs", "idx"])
    configs = unique_labels(pd.DataFrame(out))
    configs["lr_key"] = configs["lr"].fillna(-1.0)
    order = ["baseline", "score", "time_median", "lr_key", "hidden_width", "setup"]
    return configs.sort_values(order, kind="stable").drop(columns="lr_key").reset_index(drop=True)


@dataclass
class Baseline:
    """The chosen configuration of one backprop method on one problem, and its tuning cost."""

    label: str
    method: str
    device: str
    config: dict[str, Any]
    runs: list[Run]
    tried: pd.DataFrame  # every configuration of this baseline, the chosen one first
    tuning_runs: int = 0
    tuning_seconds: float = 0.0


@dataclass
class Problem:
    system: str
    case: str
    train_points: int | None
    ladder: pd.DataFrame
    baselines: list[Baseline] = field(default_factory=list)
    sampled_runs: int = 0
    backprop_runs: int = 0
    title: str = ""  # the system, with case and points when the system has several problems

    @property
    def comparable(self) -> bool:
        return not self.ladder.empty and any(b.runs for b in self.baselines)


def baselines_of(
    rows: pd.DataFrame, records: Sequence[Mapping[str, Any]], metric: str = ERROR
) -> list[Baseline]:
    """One baseline per backprop method and device of a problem's rows, in label order."""
    by_idx = rows.set_index("idx", drop=False)
    out = []
    for label, tried in backprop_configs(rows, metric).groupby("baseline", sort=True):
        chosen, others = tried.iloc[0], tried.iloc[1:]
        complete = [i for i in chosen["idx"] if by_idx.loc[i, "status"] == "ok"]
        runs = [run_of(by_idx.loc[i], records[i], metric) for i in complete]
        out.append(
            Baseline(
                label=str(label),
                method=chosen["method"],
                device=chosen["device"],
                config={k: chosen[k] for k in ("hidden_width", "lr", "setup", "label")},
                runs=[r for r in runs if r is not None],
                tried=tried.reset_index(drop=True),
                tuning_runs=int(others["runs"].sum()),
                tuning_seconds=float(others["seconds"].sum()),
            )
        )
    return out


def problems_of(
    frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], metric: str = ERROR
) -> list[Problem]:
    """Every problem with at least one complete sampled or backprop run, in frame order, the
    two sides matched on ``metric`` (a frame column; learning-curve points may hold it)."""
    if frame.empty:
        return []
    # matched on test rel-L2(H): models without a Hamiltonian (S-MLP, Adam-MLP) have none
    frame = frame[frame["hamiltonian"].ne(False)]
    out = []
    for key, rows in frame.groupby(PROBLEM, dropna=False, sort=False):
        system, case, points = key
        problem = Problem(
            system=system,
            case=case,
            train_points=None if points is pd.NA else int(points),
            ladder=ladder_of(rows, metric),
            baselines=baselines_of(rows, records, metric),
            sampled_runs=int((rows["trainer"] == "sampled").sum()),
            backprop_runs=int((rows["trainer"] == "backprop").sum()),
        )
        out.append(problem)
    for problem in out:
        if sum(p.system == problem.system for p in out) > 1:
            problem.title = f"{problem.system} ({problem.case}; {problem.train_points} points)"
        else:
            problem.title = problem.system
    return out


# ---------------------------------------------------------------- comparisons


@dataclass
class Ratios:
    """Per backprop seed, a numerator over a sampled configuration: against its median (the point
    value) and against its slowest/fastest seed, so the min–max spans both sides' seeds."""

    points: list[Estimate] = field(default_factory=list)
    lows: list[Estimate] = field(default_factory=list)
    highs: list[Estimate] = field(default_factory=list)

    def add(self, numerator: Estimate, config: pd.Series | None, column: str) -> None:
        """``numerator`` / ``config[column_*]``; unreached when there is no configuration."""
        for values, part in ((self.points, "median"), (self.lows, "max"), (self.highs, "min")):
            if config is None or numerator.kind == "unreached":
                values.append(UNREACHED)
                continue
            ratio = quotient(numerator.value, float(config[f"{column}_{part}"]))
            values.append(
                ratio if ratio.kind == "unreached" else Estimate(ratio.value, numerator.kind)
            )

    @property
    def spread(self) -> Spread | None:
        middle, lows, highs = spread_of(self.points), spread_of(self.lows), spread_of(self.highs)
        if middle is None or lows is None or highs is None:
            return None
        return Spread(middle.median, lows.low, highs.high, middle.count)


@dataclass
class AtBest:
    """Speed-up and energy ratio at each backprop seed's best error (one entry per seed)."""

    baseline: Baseline
    ladder: pd.DataFrame
    targets: list[float] = field(default_factory=list)
    backprop_times: list[float] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)  # cheapest sampled config ('' when none)
    sampled_times: list[float] = field(default_factory=list)
    speedups: Ratios = field(default_factory=Ratios)
    energy_ratios: Ratios = field(default_factory=Ratios)
    energy_methods: set[str] = field(default_factory=set)
    energy_missing: bool = False  # a reading on either side is null (tracker off or failed)

    @property
    def energy_unreached(self) -> str:
        return "no energy reading" if self.energy_missing else "not reached by sampled"

    @property
    def speedup(self) -> Spread | None:
        return self.speedups.spread

    @property
    def energy_ratio(self) -> Spread | None:
        return self.energy_ratios.spread


def speedup_at_best(baseline: Baseline, ladder: pd.DataFrame) -> AtBest:
    result = AtBest(baseline, ladder)
    for run in baseline.runs:
        target, seconds = run.best_error, run.time_to_best
        config = cheapest_reaching(ladder, target)
        result.targets.append(target)
        result.backprop_times.append(seconds)
        result.energy_methods.add(run.energy_method or "none")
        result.chosen.append("" if config is None else config["label"])
        result.sampled_times.append(math.nan if config is None else config["time_median"])
        energy = run.energy_until(seconds)
        result.speedups.add(Estimate(seconds), config, "time")
        result.energy_ratios.add(Estimate(energy), config, "energy")
        if config is not None:
            result.energy_methods.update(config["energy_methods"])
            result.energy_missing |= math.isnan(energy) or math.isnan(config["energy_median"])
    return result


def time_to_error(baseline: Baseline, target: float) -> list[Estimate]:
    """Per seed, when the curve first reached ``target``; a lower bound (its budget) if never."""
    out = []
    for run in baseline.runs:
        seconds = time_to_reach(run.seconds, run.errors, target)
        out.append(
            Estimate(seconds) if math.isfinite(seconds) else Estimate(run.budget, "at_least")
        )
    return out


def speedups_to_error(times: Sequence[Estimate], config: pd.Series) -> Ratios:
    """Backprop time to the configuration's error / its time; lower bounds stay lower bounds."""
    ratios = Ratios()
    for seconds in times:
        ratios.add(seconds, config, "time")
    return ratios


@dataclass
class EqualTime:
    """Per backprop seed: its best error, the best sampled median error within its training time,
    and their ratio backprop / sampled (≥ 1: sampled at least as accurate)."""

    baseline: Baseline
    backprop_errors: list[float] = field(default_factory=list)
    sampled_errors: list[float] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)
    ratios: Ratios = field(default_factory=Ratios)

    @property
    def ratio(self) -> Spread | None:
        return self.ratios.spread


def equal_time(baseline: Baseline, ladder: pd.DataFrame) -> EqualTime:
    result = EqualTime(baseline)
    for run in baseline.runs:
        config = most_accurate_within(ladder, run.budget)
        result.backprop_errors.append(run.best_error)
        result.sampled_errors.append(math.nan if config is None else config["error_median"])
        result.chosen.append("" if config is None else config["label"])
        result.ratios.add(Estimate(run.best_error), config, "error")
    return result


def weakest(
    results: Sequence[Any], spread: str, baselines: Iterable[str] | None = None
) -> Any | None:
    """The result whose median (``spread`` attribute) is lowest (most favourable to backprop),
    among the named baselines (all when None); ties go to the baseline label's order."""
    chosen = [r for r in results if baselines is None or r.baseline.label in baselines]
    chosen = [r for r in chosen if getattr(r, spread) is not None]
    if not chosen:
        return None
    return min(chosen, key=lambda r: (getattr(r, spread).median.sort_key(), r.baseline.label))


# ---------------------------------------------------------------- table data


def _spread_columns(prefix: str, spread: Spread | None) -> dict[str, Any]:
    """Numbers and kinds of a spread for the CSV (NaN for unreached)."""
    if spread is None:
        return {f"{prefix}_{part}": math.nan for part in ("median", "min", "max", "kind")}
    return {
        f"{prefix}_median": spread.median.value,
        f"{prefix}_min": spread.low.value,
        f"{prefix}_max": spread.high.value,
        f"{prefix}_kind": spread.median.kind,
    }


def _float_spread(values: Sequence[float]) -> Spread | None:
    return spread_of(Estimate(v) if not math.isnan(v) else UNREACHED for v in values)


def _problem_columns(problem: Problem) -> dict[str, Any]:
    return {"system": problem.title, "case": problem.case}


def at_best_data(problems: Sequence[Problem]) -> pd.DataFrame:
    """One row per (problem, baseline): target error, times, speed-up and energy ratio."""
    rows = []
    for problem in problems:
        for baseline in problem.baselines:
            if not baseline.runs:
                continue
            result = speedup_at_best(baseline, problem.ladder)
            rows.append(
                {
                    **_problem_columns(problem),
                    "baseline": baseline.label,
                    "backprop_config": baseline.config["label"],
                    "seeds": len(baseline.runs),
                    **_spread_columns("target_error", _float_spread(result.targets)),
                    **_spread_columns("backprop_time_s", _float_spread(result.backprop_times)),
                    "sampled_config": chosen_text(result.chosen, problem.ladder),
                    **_spread_columns("sampled_time_s", _float_spread(result.sampled_times)),
                    **_spread_columns("speedup", result.speedup),
                    **_spread_columns("energy_ratio", result.energy_ratio),
                    "energy_methods": ", ".join(sorted(result.energy_methods)),
                    "_result": result,
                }
            )
    return pd.DataFrame(rows)


def chosen_text(chosen: Sequence[str], ladder: pd.DataFrame) -> str:
    """'aswim w=50: 0.044 [0.04–0.048]' (time) for each configuration chosen for some seed."""
    labels = sorted({c for c in chosen if c})
    if not labels:
        return "none reaches it"
    rows = ladder.set_index("label", drop=False)
    return "; ".join(f"{label}: {range_text(rows.loc[label], 'time')}" for label in labels)


def at_best_display(data: pd.DataFrame) -> pd.DataFrame:
    results = data["_result"]
    return pd.DataFrame(
        {
            "system": data["system"],
            "backprop": data["backprop_config"],
            "seeds": data["seeds"],
            "backprop best error": [_float_spread(r.targets).text() for r in results],
            "backprop time to it [s]": [_float_spread(r.backprop_times).text() for r in results],
            "cheapest sampled reaching it: time [s]": data["sampled_config"],
            "speed-up": [r.speedup.text("×", "not reached by sampled") for r in results],
            "energy ratio": [r.energy_ratio.text("×", r.energy_unreached) for r in results],
            "energy method": data["energy_methods"],
        }
    )


def ladder_data(problems: Sequence[Problem]) -> pd.DataFrame:
    """One row per (problem, sampled configuration): its error and time, and per baseline the
    time that baseline needed to reach that error and the speed-up (lower bounds when never)."""
    rows = []
    for problem in problems:
        baselines = [b for b in problem.baselines if b.runs]
        if not baselines:
            continue
        by_width = problem.ladder.sort_values(["method", "device", "hidden_width", "setup"])
        for _, config in by_width.iterrows():
            row: dict[str, Any] = {
                **_problem_columns(problem),
                "sampled_config": config["label"],
                "seeds": config["seeds"],
                "error_median": config["error_median"],
                "error_min": config["error_min"],
                "error_max": config["error_max"],
                "time_median": config["time_median"],
                "time_min": config["time_min"],
                "time_max": config["time_max"],
                "_cells": {},
            }
            for baseline in baselines:
                times = time_to_error(baseline, config["error_median"])
                speedups = speedups_to_error(times, config).spread
                row.update(_spread_columns(f"{baseline.label}_time_s", spread_of(times)))
                row.update(_spread_columns(f"{baseline.label}_speedup", speedups))
                row["_cells"][baseline.label] = (spread_of(times), speedups)
            rows.append(row)
    return pd.DataFrame(rows)


def _time_text(spread: Spread) -> str:
    """'12.3 s [10–15]', or 'not reached within 20 s' when the median is a lower bound."""
    if spread.median.kind == "at_least":
        return f"not reached within {fmt(spread.median.value)} s"
    return spread.text(" s")


def range_text(row: Mapping[str, Any], prefix: str) -> str:
    """'median [min–max]' of ``prefix_median`` etc. in a row, the median alone when equal."""
    median, low, high = (row[f"{prefix}_{part}"] for part in ("median", "min", "max"))
    return fmt(median) if low == high else f"{fmt(median)} [{fmt(low)}–{fmt(high)}]"


def ladder_display(data: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "system": data["system"],
            "sampled": data["sampled_config"],
            "error": [range_text(row, "error") for _, row in data.iterrows()],
            "time [s]": [range_text(row, "time") for _, row in data.iterrows()],
        }
    )
    labels = sorted({label for cells in data["_cells"] for label in cells})
    for label in labels:
        table[f"{label}: time to that error → speed-up"] = [
            f"{_time_text(cells[label][0])} → {cells[label][1].text('×')}"
            if label in cells
            else "—"
            for cells in data["_cells"]
        ]
    return table


def equal_time_data(problems: Sequence[Problem]) -> pd.DataFrame:
    """One row per (problem, baseline): accuracy at equal training time and each side's best."""
    rows = []
    for problem in problems:
        best_sampled = (
            problem.ladder.sort_values(ACCURACY_ORDER, kind="stable").iloc[0]
            if not problem.ladder.empty
            else None
        )
        for baseline in problem.baselines:
            if not baseline.runs:
                continue
            result = equal_time(baseline, problem.ladder)
            rows.append(
                {
                    **_problem_columns(problem),
                    "baseline": baseline.label,
                    "backprop_config": baseline.config["label"],
                    **_spread_columns(
                        "backprop_budget_s", _float_spread([r.budget for r in baseline.runs])
                    ),  # fmt: skip
                    **_spread_columns("backprop_best_error", _float_spread(result.backprop_errors)),
                    **_spread_columns(
                        "sampled_error_equal_time", _float_spread(result.sampled_errors)
                    ),
                    **_spread_columns("accuracy_ratio", result.ratio),
                    "sampled_best_config": None if best_sampled is None else best_sampled["label"],
                    "sampled_best_error": math.nan
                    if best_sampled is None
                    else best_sampled["error_median"],
                    "sampled_best_time_s": math.nan
                    if best_sampled is None
                    else best_sampled["time_median"],
                    "_result": result,
                }
            )
    return pd.DataFrame(rows)


def equal_time_display(data: pd.DataFrame) -> pd.DataFrame:
    results = data["_result"]
    return pd.DataFrame(
        {
            "system": data["system"],
            "backprop": data["backprop_config"],
            "backprop budget [s]": [
                _float_spread([r.budget for r in res.baseline.runs]).text() for res in results
            ],
            "backprop best error": [_float_spread(r.backprop_errors).text() for r in results],
            "best sampled error within that time": [
                _float_spread(r.sampled_errors).text(unreached="no config that fast")
                for r in results
            ],
            "accuracy ratio backprop/sampled": [
                r.ratio.text("×", "no sampled config that fast") for r in results
            ],
            "best sampled overall (time)": [
                f"{fmt(e)} ({c}, {fmt(t)} s)" if isinstance(c, str) else "—"
                for e, c, t in zip(
                    data["sampled_best_error"],
                    data["sampled_best_config"],
                    data["sampled_best_time_s"],
                    strict=True,
                )
            ],
        }
    )


def lr_search_data(problems: Sequence[Problem]) -> pd.DataFrame:
    """One row per (problem, baseline): the configurations tried, the chosen one, tuning cost."""
    rows = []
    for problem in problems:
        for baseline in problem.baselines:
            tried = baseline.tried
            rows.append(
                {
                    **_problem_columns(problem),
                    "baseline": baseline.label,
                    "configs": len(tried),
                    "tried": "; ".join(
                        f"{lbl}: {fmt(score)} ({ok}/{n} ok)"
                        for lbl, score, ok, n in zip(
                            tried["label"], tried["score"], tried["ok"], tried["runs"], strict=True
                        )
                    ),
                    "chosen": baseline.config["label"],
                    "chosen_lr": baseline.config["lr"],
                    "chosen_median_final_error": float(tried["score"].iloc[0]),
                    "tuning_runs": baseline.tuning_runs,
                    "tuning_seconds": baseline.tuning_seconds,
                }
            )
    return pd.DataFrame(rows)


def lr_search_display(data: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "system": data["system"],
            "baseline": data["baseline"],
            "configurations tried: median final error (ok/runs)": data["tried"],
            "chosen": data["chosen"],
            "tuning cost (not charged to either side)": [
                f"{n} runs, {fmt(s)} s" if n else "none (one configuration)"
                for n, s in zip(data["tuning_runs"], data["tuning_seconds"], strict=True)
            ],
        }
    )


def public(data: pd.DataFrame) -> pd.DataFrame:
    """The CSV-able columns (without the private result objects)."""
    return data[[c for c in data.columns if not c.startswith("_")]]

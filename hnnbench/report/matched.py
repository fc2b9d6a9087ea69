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

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from hnnbench.report.document import fmt
from hnnbench.report.numbers import as_float, seed_spread, spread_columns, spread_text

PROBLEM = ["system", "case", "train_points"]
CONFIG = ["method", "device", "hidden_width", "lr", "setup"]
PAPER_METHOD = "adam"  # the paper's protocol
ERROR = "test_H_rel_l2"  # the error both sides are matched on unless a caller names another

Kind = Literal["exact", "at_least", "at_most", "bracket", "unreached"]


# ---------------------------------------------------------------- brackets


@dataclass(frozen=True)
class Estimate:
    """A quantity known to lie in [low, high]: exact when the two are equal, a lower bound when
    high is inf (``at_least``), an upper bound when low is 0 (``at_most``), missing when nothing
    was measured (``unreached``: NaN). Ratios built from a discrete ladder are brackets: the rung
    that reaches a target gives one end, the rung below it (which does not) the other."""

    low: float
    high: float = math.nan  # NaN: the same as low (an exact value)

    def __post_init__(self) -> None:
        if math.isnan(self.high):
            object.__setattr__(self, "high", self.low)

    @classmethod
    def at_least(cls, value: float) -> Estimate:
        return cls(value, math.inf)

    @property
    def value(self) -> float:
        """The end a verdict may rely on: the lower one."""
        return self.low

    @property
    def kind(self) -> Kind:
        if math.isnan(self.low):
            return "unreached"
        if self.low == self.high:
            return "exact"
        if math.isinf(self.high):
            return "at_least"
        return "at_most" if self.low == 0 else "bracket"

    def sort_key(self) -> tuple[float, float]:
        if self.kind == "unreached":
            return -math.inf, -math.inf
        return self.low, self.high

    def text(self, unit: str = "", unreached: str = "not reached") -> str:
        kind = self.kind
        if kind == "unreached":
            return unreached
        if kind == "exact":
            return ("∞" if math.isinf(self.low) else fmt(self.low)) + unit
        if kind == "at_least":
            return f"≥ {fmt(self.low)}{unit}"
        if kind == "at_most":
            return f"< {fmt(self.high)}{unit}"
        return f"{fmt(self.low)}–{fmt(self.high)}{unit}"

    def at_or_above(self, threshold: float) -> bool:
        """Known to be ≥ threshold: the lower end clears it."""
        return self.kind != "unreached" and self.low >= threshold

    def below(self, threshold: float) -> bool:
        """Known to be < threshold: the upper end is below it."""
        return self.kind != "unreached" and self.high < threshold


UNREACHED = Estimate(math.nan)


@dataclass(frozen=True)
class Spread:
    """Over seeds: the median bracket (median of the lower ends, median of the upper ends; the
    true median lies inside it) and the range from the lowest lower end to the highest upper
    end."""

    median: Estimate
    low: Estimate
    high: Estimate
    count: int

    def text(self, unit: str = "", unreached: str = "not reached") -> str:
        median = self.median.text(unit, unreached)
        if self.count < 2 or (
            self.low.low == self.median.low and self.high.high == self.median.high
        ):
            return median
        return f"{median} [{self.low.text('', 'n/r')}–{self.high.text('', 'n/r')}]"


def spread_of(estimates: Iterable[Estimate]) -> Spread | None:
    """Median bracket and range of bracketed values; None when there are none. Missing values
    (``unreached``) rank lowest: the median is missing when its lower middle entry is."""
    values = list(estimates)
    if not values:
        return None
    lows = sorted(-math.inf if e.kind == "unreached" else e.low for e in values)
    highs = sorted(-math.inf if e.kind == "unreached" else e.high for e in values)
    middle_low = _middle(lows)
    median = UNREACHED if middle_low == -math.inf else Estimate(middle_low, _middle(highs))
    known = [e for e in values if e.kind != "unreached"]
    if not known:
        return Spread(UNREACHED, UNREACHED, UNREACHED, len(values))
    low = Estimate(min(e.low for e in known))
    return Spread(median, low, Estimate(max(e.high for e in known)), len(values))


def _middle(values: Sequence[float]) -> float:
    """The median of sorted values (inf-safe: two infinite middles give inf)."""
    n = len(values)
    a, b = values[(n - 1) // 2], values[n // 2]
    return a if a == b else (a + b) / 2


def quotient(numerator: float, denominator: float) -> Estimate:
    """numerator / denominator as an exact estimate (0/0 = 1, x/0 = inf); unreached on NaN."""
    if math.isnan(numerator) or math.isnan(denominator):
        return UNREACHED
    if denominator == 0:
        return Estimate(1.0 if numerator == 0 else math.inf)
    return Estimate(numerator / denominator)


def ratio_bracket(numerator: Estimate, low_den: float | None, high_den: float | None) -> Estimate:
    """numerator / d for d in [low_den, high_den] (None: 0 below, inf above), i.e.
    [num.low / high_den, num.high / low_den]."""
    if numerator.kind == "unreached":
        return UNREACHED
    low = 0.0 if high_den is None else quotient(numerator.low, high_den).low
    high = math.inf if low_den is None else quotient(numerator.high, low_den).low
    if math.isnan(low) or math.isnan(high):
        return UNREACHED
    return Estimate(low, max(high, low))


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
    cpu_time: float = math.nan  # process CPU seconds of the fit
    contended: bool = False  # the timed fit shared the machine (timing.py's rule)
    converged: bool | None = None  # stopped by its plateau rule (None: not recorded)
    stopped_by: str | None = None  # plateau, stalled, steps, max_seconds, target_error, …
    steps: int | None = None  # the last step (iteration) of its learning curve

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
        return self.energy_kwh * self._share(seconds)

    def cpu_until(self, seconds: float) -> float:
        """The process CPU seconds charged for ``seconds`` of training, pro rata like energy."""
        return self.cpu_time * self._share(seconds)

    def _share(self, seconds: float) -> float:
        wall = self.wall_time if self.wall_time > 0 else self.train_time
        return seconds / wall if wall > 0 else math.nan


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
        # a frame column: NaN where the run measured no energy
        energy_method=row["energy_method"] if isinstance(row["energy_method"], str) else None,
        cpu_time=float(row["cpu_time_s"]),
        contended=row["contended"] is True,
        converged=record.get("converged"),
        stopped_by=record.get("stopped_by"),
        steps=_last_step(record),
    )


def _last_step(record: Mapping[str, Any]) -> int | None:
    points = record.get("learning_curve") or []
    step = as_float(points[-1].get("step")) if points else math.nan
    return int(step) if math.isfinite(step) else None


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
    """Repeated labels (configurations that differ only in the rest of their trainer config, e.g.
    a budget or a solver) get the settings in which they differ, so every label names one
    configuration: 'lbfgs w=200 lr=1 (max_seconds=150, steps=8000)'."""
    repeated = configs["label"].duplicated(keep=False)
    for label, group in configs[repeated].groupby("label", sort=False):
        setups = {text: json.loads(text) for text in set(group["setup"])}
        keys = {key for setup in setups.values() for key in setup}
        differ = sorted(key for key in keys if not _same(setups.values(), key))
        for index in group.index if differ else ():
            setup = setups[configs.at[index, "setup"]]
            settings = ", ".join(f"{key}={_setting(setup.get(key))}" for key in differ)
            configs.at[index, "label"] = f"{label} ({settings})"
    return configs


def _same(setups: Iterable[Mapping[str, Any]], key: str) -> bool:
    return len({json.dumps(setup.get(key), sort_keys=True) for setup in setups}) == 1


def _setting(value: Any) -> str:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return fmt(value) if number else str(value)


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
            ("cpu", "cpu_time_s"),
        ):
            row.update(spread_columns(name, runs[column]))
        row["energy_methods"] = sorted(set(runs["energy_method"].fillna("none")))
        row["contended"] = int((runs["contended"] == True).sum())  # noqa: E712 (None-safe)
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
        row["time_median"] = seed_spread(runs["train_time_s"])[0]
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


@dataclass(frozen=True)
class Rungs:
    """The two ladder rungs around a target error: the cheapest configuration reaching it and
    the dearest one cheaper than that (which, being cheaper, does not reach it). Assuming error
    falls with cost along the ladder, the cheapest sampled cost of the target lies between
    their times: one rung alone gives only a bound."""

    reaching: pd.Series | None
    below: pd.Series | None

    def bracket(self, numerator: Estimate, column: str) -> Estimate:
        """numerator / (the sampled cost of the target): [num / reaching, num / below]; 0 below
        when no rung reaches, inf above when the cheapest rung already does."""
        return ratio_bracket(
            numerator,
            None if self.below is None else float(self.below[f"{column}_median"]),
            None if self.reaching is None else float(self.reaching[f"{column}_median"]),
        )

    def refine(self) -> str:
        """Which configurations to add so that the bracket narrows."""
        if self.reaching is None:
            assert self.below is not None
            return f"configurations beyond {self.below['label']} (no rung reaches the target)"
        if self.below is None:
            return f"configurations cheaper than {self.reaching['label']} (the cheapest rung)"
        return f"configurations between {self.below['label']} and {self.reaching['label']}"


def rungs_for(ladder: pd.DataFrame, target: float) -> Rungs:
    reaching = cheapest_reaching(ladder, target)
    if reaching is None:
        cheaper = ladder
    else:
        cheaper = ladder[ladder["time_median"] < reaching["time_median"]]
    below = None if cheaper.empty else cheaper.sort_values(LADDER_ORDER, kind="stable").iloc[-1]
    return Rungs(reaching, below)


@dataclass
class AtBest:
    """Per backprop seed: its best error, the time it first reached it, the ladder rungs around
    that error and the speed-up, energy and CPU-seconds ratio brackets."""

    baseline: Baseline
    ladder: pd.DataFrame
    targets: list[float] = field(default_factory=list)
    backprop_times: list[float] = field(default_factory=list)
    rungs: list[Rungs] = field(default_factory=list)
    speedups: list[Estimate] = field(default_factory=list)
    energy_ratios: list[Estimate] = field(default_factory=list)
    cpu_ratios: list[Estimate] = field(default_factory=list)
    energy_methods: set[str] = field(default_factory=set)
    energy_missing: bool = False  # a reading on either side is null (tracker off or failed)
    contended_runs: dict[str, int] = field(default_factory=dict)  # per run or rung: how many

    @property
    def contended(self) -> int:
        """Timed runs behind the comparison that shared the machine (each counted once)."""
        return sum(self.contended_runs.values())

    @property
    def chosen(self) -> list[str]:
        return ["" if r.reaching is None else r.reaching["label"] for r in self.rungs]

    @property
    def energy_unreached(self) -> str:
        return "no energy reading" if self.energy_missing else "not reached by sampled"

    @property
    def speedup(self) -> Spread | None:
        return spread_of(self.speedups)

    @property
    def energy_ratio(self) -> Spread | None:
        return spread_of(self.energy_ratios)

    @property
    def cpu_ratio(self) -> Spread | None:
        return spread_of(self.cpu_ratios)

    def refine(self) -> str:
        """The rungs to add, from the seed at the median of the speed-up's lower ends."""
        order = sorted(range(len(self.speedups)), key=lambda i: self.speedups[i].sort_key())
        return self.rungs[order[(len(order) - 1) // 2]].refine() if order else ""


def speedup_at_best(baseline: Baseline, ladder: pd.DataFrame) -> AtBest:
    result = AtBest(baseline, ladder)
    for run in baseline.runs:
        target, seconds = run.best_error, run.time_to_best
        rungs = rungs_for(ladder, target)
        result.targets.append(target)
        result.backprop_times.append(seconds)
        result.rungs.append(rungs)
        result.energy_methods.add(run.energy_method or "none")
        energy = run.energy_until(seconds)
        result.speedups.append(rungs.bracket(Estimate(seconds), "time"))
        result.energy_ratios.append(rungs.bracket(_known(energy), "energy"))
        result.cpu_ratios.append(rungs.bracket(_known(run.cpu_until(seconds)), "cpu"))
        result.contended_runs[f"seed {run.seed}"] = int(run.contended)
        for config in (rungs.reaching, rungs.below):
            if config is not None:
                result.energy_methods.update(config["energy_methods"])
                result.energy_missing |= math.isnan(config["energy_median"])
                result.contended_runs[config["label"]] = int(config["contended"])
        result.energy_missing |= math.isnan(energy)
    return result


def _known(value: float) -> Estimate:
    return UNREACHED if math.isnan(value) else Estimate(value)


def time_to_error(baseline: Baseline, target: float) -> list[Estimate]:
    """Per seed, when the curve first reached ``target``; a lower bound (its budget) if never."""
    out = []
    for run in baseline.runs:
        seconds = time_to_reach(run.seconds, run.errors, target)
        out.append(Estimate(seconds) if math.isfinite(seconds) else Estimate.at_least(run.budget))
    return out


def speedups_to_error(times: Sequence[Estimate], config: pd.Series) -> Spread | None:
    """Backprop time to the configuration's error / its median time; lower bounds stay lower
    bounds."""
    seconds = float(config["time_median"])
    return spread_of(ratio_bracket(t, seconds, seconds) for t in times)


@dataclass
class EqualTime:
    """Per backprop seed: its best error, the best sampled median error within its training time
    and the ratio backprop / sampled (≥ 1: sampled at least as accurate) as a bracket: the rung
    within the budget gives the lower end, the cheapest rung beyond it the upper."""

    baseline: Baseline
    backprop_errors: list[float] = field(default_factory=list)
    sampled_errors: list[float] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)
    ratios: list[Estimate] = field(default_factory=list)
    contended_runs: dict[str, int] = field(default_factory=dict)  # per run or rung: how many

    @property
    def contended(self) -> int:
        return sum(self.contended_runs.values())

    @property
    def ratio(self) -> Spread | None:
        return spread_of(self.ratios)


def cheapest_slower(ladder: pd.DataFrame, seconds: float) -> pd.Series | None:
    """The cheapest configuration whose median time is above ``seconds``."""
    hits = ladder[ladder["time_median"] > seconds]
    return None if hits.empty else hits.sort_values(LADDER_ORDER, kind="stable").iloc[0]


def equal_time(baseline: Baseline, ladder: pd.DataFrame) -> EqualTime:
    result = EqualTime(baseline)
    for run in baseline.runs:
        within = most_accurate_within(ladder, run.budget)
        beyond = cheapest_slower(ladder, run.budget)
        error_within = math.nan if within is None else float(within["error_median"])
        error_beyond = None if beyond is None else float(beyond["error_median"])
        if error_beyond is not None and within is not None:
            error_beyond = min(error_beyond, error_within)
        result.backprop_errors.append(run.best_error)
        result.sampled_errors.append(error_within)
        result.chosen.append("" if within is None else within["label"])
        result.ratios.append(
            ratio_bracket(
                Estimate(run.best_error), error_beyond, None if within is None else error_within
            )
        )
        result.contended_runs[f"seed {run.seed}"] = int(run.contended)
        for config in (within, beyond):
            if config is not None:
                result.contended_runs[config["label"]] = int(config["contended"])
    return result


def weakest(
    results: Sequence[Any], spread: str, baselines: Iterable[str] | None = None
) -> Any | None:
    """The result whose median bracket is lowest (most favourable to backprop), among the named
    baselines (all when None): by its lower end, then its upper end; ties go to the label."""
    chosen = [r for r in results if baselines is None or r.baseline.label in baselines]
    chosen = [r for r in chosen if getattr(r, spread) is not None]
    if not chosen:
        return None
    return min(chosen, key=lambda r: (getattr(r, spread).median.sort_key(), r.baseline.label))


def lowest(results: Sequence[Any], spread: str) -> Estimate | None:
    """The bracket of the minimum over ``results`` of their medians: [min of the lower ends,
    min of the upper ends] (the speed-up vs the best baseline is a minimum over baselines)."""
    medians = [getattr(r, spread).median for r in results if getattr(r, spread) is not None]
    medians = [m for m in medians if m.kind != "unreached"]
    if not medians:
        return None
    return Estimate(min(m.low for m in medians), min(m.high for m in medians))


# ---------------------------------------------------------------- table data


def _spread_columns(prefix: str, spread: Spread | None) -> dict[str, Any]:
    """Numbers and kinds of a spread for the CSV (NaN for unreached): the median bracket's
    ends (``_median`` its lower end, ``_median_high`` its upper end) and the range."""
    if spread is None:
        parts = ("median", "median_high", "min", "max", "kind")
        return {f"{prefix}_{part}": math.nan for part in parts}
    return {
        f"{prefix}_median": spread.median.low,
        f"{prefix}_median_high": spread.median.high,
        f"{prefix}_min": spread.low.low,
        f"{prefix}_max": spread.high.high,
        f"{prefix}_kind": spread.median.kind,
    }


def _float_spread(values: Sequence[float]) -> Spread | None:
    return spread_of(_known(v) for v in values)


def _problem_columns(problem: Problem) -> dict[str, Any]:
    return {"system": problem.title, "case": problem.case}


def regime(baseline: Baseline) -> str:
    """The regime a verdict against this baseline speaks for: 'at convergence (plateau)' when
    every seed stopped on its plateau rule; 'capped at N steps (k/n converged)' when a step cap
    ended some; else 'within a budget of T s' (the budget's median)."""
    runs = baseline.runs
    if runs and all(r.converged for r in runs):
        return "at convergence (plateau)"
    capped = [r.steps for r in runs if r.stopped_by == "steps" and r.steps is not None]
    if capped:
        done = sum(bool(r.converged) for r in runs)
        return f"capped at {max(capped)} steps ({done}/{len(runs)} converged)"
    budget = _float_spread([r.budget for r in runs])
    return f"within a budget of {fmt(budget.median.low) if budget else '?'} s"


def at_best_table(problems: Sequence[Problem]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(display, data): one row per (problem, baseline): target error, times, and the speed-up,
    energy and CPU-seconds ratio brackets."""
    display, data = [], []
    for problem in problems:
        for baseline in problem.baselines:
            if not baseline.runs:
                continue
            result = speedup_at_best(baseline, problem.ladder)
            sampled = chosen_text(result.chosen, problem.ladder)
            data.append(
                {
                    **_problem_columns(problem),
                    "baseline": baseline.label,
                    "backprop_config": baseline.config["label"],
                    "regime": regime(baseline),
                    "seeds": len(baseline.runs),
                    **_spread_columns("target_error", _float_spread(result.targets)),
                    **_spread_columns("backprop_time_s", _float_spread(result.backprop_times)),
                    "sampled_config": sampled,
                    **_spread_columns("speedup", result.speedup),
                    **_spread_columns("energy_ratio", result.energy_ratio),
                    **_spread_columns("cpu_ratio", result.cpu_ratio),
                    "energy_methods": ", ".join(sorted(result.energy_methods)),
                    "contended_runs": result.contended,
                }
            )
            display.append(
                {
                    "system": problem.title,
                    "backprop": baseline.config["label"],
                    "regime": regime(baseline),
                    "seeds": len(baseline.runs),
                    "backprop best error": _float_spread(result.targets).text(),
                    "backprop time to it [s]": _float_spread(result.backprop_times).text(),
                    "cheapest sampled reaching it: time [s]": sampled,
                    "speed-up": _text(result.speedup, "×", "not reached by sampled"),
                    "energy ratio": _text(result.energy_ratio, "×", result.energy_unreached),
                    "CPU-seconds ratio": _text(result.cpu_ratio, "×", "no CPU time recorded"),
                    "energy method": ", ".join(sorted(result.energy_methods)),
                }
            )
    return pd.DataFrame(display), pd.DataFrame(data)


def _text(spread: Spread | None, unit: str, unreached: str) -> str:
    return unreached if spread is None else spread.text(unit, unreached)


def chosen_text(chosen: Sequence[str], ladder: pd.DataFrame) -> str:
    """'aswim w=50: 0.044 [0.04–0.048]' (time) for each configuration chosen for some seed."""
    labels = sorted({c for c in chosen if c})
    if not labels:
        return "none reaches it"
    rows = ladder.set_index("label", drop=False)
    return "; ".join(f"{label}: {range_text(rows.loc[label], 'time')}" for label in labels)


def ladder_table(problems: Sequence[Problem]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(display, data): one row per (problem, sampled configuration): its error and time, and per
    baseline the time that baseline needed to reach that error and the speed-up (lower bounds
    when never)."""
    display, data = [], []
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
                **{
                    f"{name}_{part}": config[f"{name}_{part}"]
                    for name in ("error", "time")
                    for part in ("median", "min", "max")
                },
            }
            shown: dict[str, Any] = {
                "system": problem.title,
                "sampled": config["label"],
                "error": range_text(config, "error"),
                "time [s]": range_text(config, "time"),
            }
            for baseline in baselines:
                times = spread_of(time_to_error(baseline, config["error_median"]))
                speedups = speedups_to_error(
                    time_to_error(baseline, config["error_median"]), config
                )
                row.update(_spread_columns(f"{baseline.label}_time_s", times))
                row.update(_spread_columns(f"{baseline.label}_speedup", speedups))
                shown[f"{baseline.label}: time to that error → speed-up"] = (
                    f"{_time_text(times)} → {_text(speedups, '×', 'not reached')}"
                )
            data.append(row)
            display.append(shown)
    frame = pd.DataFrame(display)
    return frame.fillna("—") if not frame.empty else frame, pd.DataFrame(data)


def _time_text(spread: Spread | None) -> str:
    """'12.3 s [10–15]', or 'not reached within 20 s' when the median is a lower bound."""
    if spread is None:
        return "—"
    if spread.median.kind == "at_least":
        return f"not reached within {fmt(spread.median.low)} s"
    return spread.text(" s")


def range_text(row: Mapping[str, Any], prefix: str) -> str:
    """'median [min–max]' of ``prefix_median`` etc. in a row, the median alone when equal."""
    return spread_text(*(row[f"{prefix}_{part}"] for part in ("median", "min", "max")))


def equal_time_table(problems: Sequence[Problem]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(display, data): one row per (problem, baseline): accuracy at equal training time (a
    bracket) and each side's best."""
    display, data = [], []
    for problem in problems:
        best = (
            problem.ladder.sort_values(ACCURACY_ORDER, kind="stable").iloc[0]
            if not problem.ladder.empty
            else None
        )
        for baseline in problem.baselines:
            if not baseline.runs:
                continue
            result = equal_time(baseline, problem.ladder)
            budgets = _float_spread([r.budget for r in baseline.runs])
            data.append(
                {
                    **_problem_columns(problem),
                    "baseline": baseline.label,
                    "backprop_config": baseline.config["label"],
                    "regime": regime(baseline),
                    **_spread_columns("backprop_budget_s", budgets),
                    **_spread_columns("backprop_best_error", _float_spread(result.backprop_errors)),
                    **_spread_columns(
                        "sampled_error_equal_time", _float_spread(result.sampled_errors)
                    ),
                    **_spread_columns("accuracy_ratio", result.ratio),
                    "sampled_best_config": None if best is None else best["label"],
                    "sampled_best_error": math.nan if best is None else best["error_median"],
                    "sampled_best_time_s": math.nan if best is None else best["time_median"],
                    "contended_runs": result.contended,
                }
            )
            display.append(
                {
                    "system": problem.title,
                    "backprop": baseline.config["label"],
                    "regime": regime(baseline),
                    "backprop budget [s]": _text(budgets, "", "—"),
                    "backprop best error": _float_spread(result.backprop_errors).text(),
                    "best sampled error within that time": _float_spread(
                        result.sampled_errors
                    ).text(unreached="no config that fast"),
                    "accuracy ratio backprop/sampled": _text(
                        result.ratio, "×", "no sampled config that fast"
                    ),
                    "best sampled overall (time)": "—"
                    if best is None
                    else f"{fmt(best['error_median'])} ({best['label']}, "
                    f"{fmt(best['time_median'])} s)",
                }
            )
    return pd.DataFrame(display), pd.DataFrame(data)


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

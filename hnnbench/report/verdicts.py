"""The claims check: the press release's claims as verdicts per system, from the matched-accuracy
comparison (``matched.py``) and thresholds declared once here (``THRESHOLDS``, rendered in the
report). Verdict words are data chosen by ``decide``; nothing is written per run.

Each claim is decided on the MEDIAN over backprop seeds of its ratio (spread shown beside it),
against two references: the paper's Adam (method ``adam``) and the best backprop baseline, i.e.
the lowest ratio over the baselines (most favourable to backprop). A ratio read off a discrete
ladder is a BRACKET [lower, upper] (``matched.Rungs``): a claim holds only when the lower end
clears its threshold, fails only when the upper end is below it, and is otherwise not measurable
until the ladder is refined where the verdict says.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from hnnbench.report import matched
from hnnbench.report.document import Note, Para, Section, Table, fmt
from hnnbench.report.matched import PAPER_METHOD, Estimate, Problem, Spread

HOLDS = "holds"
ONLY_ADAM = "holds only vs the paper's Adam"
FAILS = "does not hold"
NOT_MEASURABLE = "not measurable"
REFINE = "not measurable — refine the ladder"
ESTIMATED = "not measured (estimated only)"
NEEDS_BOTH = "not measurable: needs sampled and backprop runs of the same system"


@dataclass(frozen=True)
class Thresholds:
    """What each claim must reach, as a median over seeds."""

    speedup: float = 100.0  # "100 times faster": at matched accuracy
    energy_ratio: float = 10.0  # "much more energy efficient": an order of magnitude
    error_factor: float = 2.0  # "comparable quality": sampled error ≤ 2 × backprop's
    gpu_speedup: float = 20.0  # workshop: "> 20× faster on CPUs than HNNs trained on a GPU"


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Claim:
    key: str
    quote: str
    measure: str  # the ratio that decides it (larger is better for sampling)
    threshold: float  # on that ratio
    condition: str  # the threshold in words
    unreached: str  # why the ratio is missing when no sampled configuration qualifies


def claims(thresholds: Thresholds = THRESHOLDS) -> tuple[Claim, ...]:
    t = thresholds
    return (
        Claim(
            "faster",
            "100 times faster",
            "speed-up at matched accuracy: backprop's time to its best error / the cheapest "
            "sampled configuration reaching that error",
            t.speedup,
            f"speed-up ≥ {fmt(t.speedup)}×",
            "no sampled configuration reaches backprop's best error",
        ),
        Claim(
            "quality",
            "comparable in quality",
            "accuracy ratio at equal training time: backprop's best error / the best sampled "
            "median error among configurations no slower than the backprop run",
            1 / t.error_factor,
            f"sampled error ≤ {fmt(t.error_factor)} × backprop's (ratio ≥ "
            f"{fmt(1 / t.error_factor)}×)",
            "no sampled configuration is as fast as the backprop run",
        ),
        Claim(
            "energy",
            "much more energy efficient",
            "energy ratio at matched accuracy: backprop's energy to its best error (the run's "
            "average power × its seconds to that error) / the sampled configuration's energy",
            t.energy_ratio,
            f"energy ratio ≥ {fmt(t.energy_ratio)}×",
            "no sampled configuration reaches backprop's best error, or an energy reading is "
            "missing",
        ),
        Claim(
            "gpu",
            "> 20× faster on CPUs than HNNs trained on a GPU (workshop version)",
            "speed-up at matched accuracy, sampled on the CPU vs backprop on CUDA",
            t.gpu_speedup,
            f"speed-up ≥ {fmt(t.gpu_speedup)}×",
            "no CPU sampled configuration reaches backprop's best error",
        ),
    )


def threshold_rows(thresholds: Thresholds = THRESHOLDS) -> pd.DataFrame:
    """Per claim: the ratio that decides it, its threshold and when it cannot be measured."""
    return pd.DataFrame(
        {
            "claim": [c.quote for c in claims(thresholds)],
            "decided by (median over backprop seeds)": [c.measure for c in claims(thresholds)],
            "threshold": [c.condition for c in claims(thresholds)],
            "also not measurable when": [c.unreached for c in claims(thresholds)],
        }
    )


RULES = (
    (HOLDS, "the lower end of the bracket clears the threshold vs the best backprop baseline (the "
     "lowest ratio over the baselines; at least one besides the paper's Adam ran)"),
    (ONLY_ADAM, "the lower end clears it vs the paper's Adam (method `adam`), not vs the best "
     "backprop baseline, or the paper's Adam was the only baseline"),
    (FAILS, "the upper end of the bracket is below the threshold vs the best baseline or the "
     "paper's Adam, and the threshold is not cleared vs the paper's Adam"),
    (REFINE, "the bracket straddles the threshold: the ladder's rungs are too far apart (or "
     "start too high) to decide; the verdict names the configurations to add"),
    (NOT_MEASURABLE, "no sampled or no backprop run of the system, or the claim's own case in "
     "the table above"),
    (ESTIMATED, "energy claim only: a compared run's energy is codecarbon's estimate "
     "(energy_method `estimated`: CPU power modelled from load × TDP), whatever the ratio; the "
     "CPU-seconds ratio (process CPU time, a compute proxy) is shown beside it"),
)  # fmt: skip


def rule_rows() -> pd.DataFrame:
    return pd.DataFrame(RULES, columns=["verdict", "when"])


def decide(
    claim: Claim,
    vs_adam: Estimate | None,
    vs_best: Estimate | None,
    others: bool = True,
    refine: str = "",
) -> tuple[str, str]:
    """(verdict, reason) from the brackets vs the paper's Adam and vs the best baseline;
    ``others``: a baseline besides the paper's Adam ran (else 'holds' would claim more than
    was compared); ``refine``: the configurations that would narrow a straddling bracket."""
    best, adam = vs_best, vs_adam
    if best is None and adam is None:
        return NOT_MEASURABLE, "no backprop run to compare with"
    if others and best is not None and best.at_or_above(claim.threshold):
        return HOLDS, ""
    if adam is not None and adam.at_or_above(claim.threshold):
        if others and best is not None and not best.below(claim.threshold):
            hint = f"; add {refine}" if refine else ""
            return (
                ONLY_ADAM,
                f"vs the best baseline the bracket {best.text('×')} straddles it{hint}",
            )
        return ONLY_ADAM, ""
    if any(e is not None and e.below(claim.threshold) for e in (best, adam)):
        return FAILS, ""
    open_one = best or adam
    if open_one is not None and open_one.kind != "unreached":
        hint = f"; add {refine}" if refine else ""
        return REFINE, f"bracket {open_one.text('×')} around {fmt(claim.threshold)}×{hint}"
    return NOT_MEASURABLE, claim.unreached


@dataclass(frozen=True)
class Verdict:
    system: str
    claim: Claim
    verdict: str
    evidence: str
    reason: str = ""
    regime: str = ""  # the backprop side's regime: at convergence, or within a budget
    contended: int = 0  # timed runs behind it that shared the machine


def _pair(
    results: Sequence[Any], attribute: str, baselines: Sequence[matched.Baseline]
) -> tuple[Any | None, Any | None]:
    """(vs the paper's Adam, vs the best baseline) among ``results``."""
    adam_labels = [b.label for b in baselines if b.method == PAPER_METHOD]
    return (
        matched.weakest(results, attribute, adam_labels),
        matched.weakest(results, attribute, None),
    )


def _brackets(
    results: Sequence[Any], attribute: str, baselines: Sequence[matched.Baseline]
) -> tuple[Estimate | None, Estimate | None]:
    """(vs the paper's Adam, vs the best baseline): the latter is the minimum over baselines,
    whose bracket is [min of the lower ends, min of the upper ends]."""
    adam_labels = {b.label for b in baselines if b.method == PAPER_METHOD}
    adam = [r for r in results if r.baseline.label in adam_labels]
    return matched.lowest(adam, attribute), matched.lowest(results, attribute)


def _evidence(
    adam: Any | None, best: Any | None, attribute: str, detail: Callable[[Any], str]
) -> str:
    """'vs the paper's Adam (config): 455× [400–500] (detail); vs the best baseline …'."""
    named = [("vs the paper's Adam", adam), ("vs the best baseline", best)]
    if adam is not None and best is adam:
        named = [("vs the paper's Adam, also the best baseline", adam)]
    parts = []
    for prefix, result in named:
        if result is not None:
            spread: Spread = getattr(result, attribute)
            text = spread.text("×", "not reached")
            config = f"{result.baseline.config['label']}, {matched.regime(result.baseline)}"
            parts.append(f"{prefix} ({config}): {text}{detail(result)}")
    return "; ".join(parts) or "—"


def _at_best_detail(result: matched.AtBest) -> str:
    targets = matched.spread_of(matched.Estimate(t) for t in result.targets)
    times = matched.spread_of(matched.Estimate(t) for t in result.backprop_times)
    if not any(result.chosen):
        return f" (backprop best {targets.text()}; the sampled ladder never gets there)"
    sampled = matched.chosen_text(result.chosen, result.ladder)
    return f" (backprop reaches {targets.text()} in {times.text(' s')}; {sampled} s)"


def _equal_time_detail(result: matched.EqualTime) -> str:
    budgets = matched.spread_of(matched.Estimate(r.budget) for r in result.baseline.runs)
    backprop = matched.spread_of(matched.Estimate(e) for e in result.backprop_errors)
    sampled = sorted({c for c in result.chosen if c})
    sampled_errors = [e for e in result.sampled_errors if not math.isnan(e)]
    tail = (
        f"sampled {fmt(min(sampled_errors))} ({' / '.join(sampled)})"
        if sampled_errors
        else "no sampled configuration that fast"
    )
    return f" (in {budgets.text(' s')}: backprop {backprop.text()}, {tail})"


def _energy_detail(result: matched.AtBest) -> str:
    cpu = result.cpu_ratio
    proxy = f"; CPU-seconds ratio (compute proxy) {cpu.text('×', 'not recorded')}" if cpu else ""
    return f" (energy: {', '.join(sorted(result.energy_methods))}{proxy})"


def problem_verdicts(
    problem: Problem, title: str, thresholds: Thresholds = THRESHOLDS
) -> list[Verdict]:
    """The verdicts of one problem: three claims, plus the GPU one when backprop ran on CUDA."""
    by_key = {c.key: c for c in claims(thresholds)}
    gpu = [b for b in problem.baselines if b.device == "cuda" and b.runs]
    shown = ["faster", "quality", "energy"] + (["gpu"] if gpu else [])
    if not problem.comparable:
        missing = "no complete sampled run" if problem.ladder.empty else "no complete backprop run"
        return [Verdict(title, by_key[k], NEEDS_BOTH, missing) for k in shown]
    baselines = [b for b in problem.baselines if b.runs]
    at_best = [matched.speedup_at_best(b, problem.ladder) for b in baselines]
    equal = [matched.equal_time(b, problem.ladder) for b in baselines]
    cpu_ladder = problem.ladder[problem.ladder["device"] == "cpu"]
    on_gpu = [matched.speedup_at_best(b, cpu_ladder) for b in gpu]
    plan = [  # claim, results, the ratio, evidence detail, the baselines compared
        ("faster", at_best, "speedup", _at_best_detail, baselines),
        ("quality", equal, "ratio", _equal_time_detail, baselines),
        ("energy", at_best, "energy_ratio", _energy_detail, baselines),
        ("gpu", on_gpu, "speedup", _at_best_detail, gpu),
    ]
    out = []
    for key, results, attribute, detail, compared in plan[: len(shown)]:
        adam, best = _pair(results, attribute, compared)
        vs_adam, vs_best = _brackets(results, attribute, compared)
        others = any(b.method != PAPER_METHOD for b in compared)
        claim = by_key[key]
        refine = best.refine() if isinstance(best, matched.AtBest) else ""
        verdict, reason = decide(claim, vs_adam, vs_best, others, refine)
        used = [r for r in (adam, best) if r is not None]
        if key == "energy" and any("estimated" in r.energy_methods for r in used):
            verdict, reason = ESTIMATED, "codecarbon modelled CPU power from load × TDP"
        elif key == "energy" and verdict == NOT_MEASURABLE and any(r.energy_missing for r in used):
            reason = "an energy reading is missing (tracker disabled or failed)"
        regimes = sorted({matched.regime(r.baseline) for r in used})
        contended = max((r.contended for r in used), default=0)
        evidence = _evidence(adam, best, attribute, detail)
        out.append(Verdict(title, claim, verdict, evidence, reason, "; ".join(regimes), contended))
    return out


def verdicts(problems: Sequence[Problem], thresholds: Thresholds = THRESHOLDS) -> list[Verdict]:
    """Every problem's verdicts, in problem order."""
    return [v for p in problems for v in problem_verdicts(p, p.title, thresholds)]


def verdict_table(found: Sequence[Verdict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(display, data) of the verdicts."""
    data = pd.DataFrame(
        {
            "system": [v.system for v in found],
            "claim": [v.claim.quote for v in found],
            "verdict": [v.verdict for v in found],
            "reason": [v.reason for v in found],
            "backprop regime": [v.regime for v in found],
            "timings": [timing_text(v.contended) for v in found],
            "evidence (median [min–max] over seeds)": [v.evidence for v in found],
        }
    )
    display = data.copy()
    display["verdict"] = [v.verdict + (f" ({v.reason})" if v.reason else "") for v in found]
    return display.drop(columns="reason"), data


def timing_text(contended: int) -> str:
    """'clean', or a warning that the verdict rests on contended timings."""
    return "clean" if not contended else f"CONTENDED ({contended} run(s) shared the machine)"


# ---------------------------------------------------------------- sections

CLAIMS_INTRO = (
    "The press release says sampled (backprop-free) training of Hamiltonian neural networks is "
    '"100 times faster", "much more energy efficient" and "comparable in quality" to '
    "iterative training. Each verdict below is chosen by the rules in the thresholds table from "
    "the matched-accuracy comparison (next section), per system, against the paper's Adam and "
    "against the best backprop baseline (whichever is least favourable to sampling). "
    "Backprop learning-rate searches pick the configuration with the best median final error "
    "(generous to backprop); the search's other runs are tuning cost, reported separately and "
    "never charged to either side."
)


def claims_section(problems: Sequence[Problem], thresholds: Thresholds = THRESHOLDS) -> Section:
    """The report's first section: verdicts per system, then the thresholds behind them."""
    blocks: list[Any] = [Para(CLAIMS_INTRO)]
    rules = [
        Table("claims_thresholds", "Thresholds behind the verdicts", threshold_rows(thresholds)),
        Table("claims_rules", "How a verdict is chosen", rule_rows()),
    ]
    if not any(p.comparable for p in problems):
        blocks.append(Para(f"**{NEEDS_BOTH}.**"))
    found = verdicts(problems, thresholds)
    if found:
        display, data = verdict_table(found)
        blocks.append(Table("claims_verdicts", "Claims check: verdicts per system", display, data))
    blocks += rules
    if any(v.verdict == ESTIMATED for v in found):
        blocks.append(
            Note(
                "Energy here is codecarbon's estimate (no RAPL or GPU counters), so the energy "
                "claim is not measured; the estimated ratio is shown as evidence only."
            )
        )
    return Section("Claims check", blocks)


MATCHED_INTRO = (
    "Per system: the sampled ladder (every sampled configuration; median over seeds) against "
    "each backprop baseline's chosen configuration (one value per backprop seed, then the "
    "median bracket [lowest–highest end over seeds]). The ladder is discrete, so a ratio at "
    "matched accuracy is a BRACKET: the cheapest tested configuration reaching the error gives "
    "its lower end, the dearest cheaper one (which does not reach it) its upper end, assuming "
    "error falls with cost along the ladder; '≥ x' when the cheapest rung already reaches the "
    "error, '< x' when no rung does. Backprop's energy is metered over its whole fit "
    "(learning-curve evaluations included); to an error it is charged the run's average power × "
    'the training seconds to that error. "not reached within T s" means the learning curve '
    "never got there in its budget: the speed-up is then a lower bound (≥), never a point value."
)


def matched_section(problems: Sequence[Problem], figures: Sequence[Any] = ()) -> Section:
    """Speed-up at backprop's best error, backprop time to each ladder error, equal-time
    accuracy (problems with both kinds) and the backprop tuning search (every problem with
    backprop runs), as tables, plus the figures passed in."""
    both = [p for p in problems if p.comparable]
    blocks: list[Any] = [Para(MATCHED_INTRO if both else f"{NEEDS_BOTH}.")]
    if both:
        tables = (
            ("matched_speedup", "Speed-up and energy ratio at backprop's best error",
             matched.at_best_table),
            ("matched_ladder", "Backprop time to each sampled configuration's error",
             matched.ladder_table),
            ("matched_equal_time", "Accuracy at equal training time, and each side's best",
             matched.equal_time_table),
        )  # fmt: skip
        for name, caption, table in tables:
            display, data = table(both)
            blocks.append(Table(name, caption, display, data))
    search = matched.lr_search_data(problems)
    if not search.empty:
        display = matched.lr_search_display(search)
        blocks.append(
            Table("lr_search", "Backprop tuning: configurations tried and tuning cost", display,
                  search)
        )  # fmt: skip
    return Section("Matched accuracy", [*blocks, *figures])

"""Check the press release's claims: ``python -m hnnbench.claims [--lite]`` (``make claims``,
``make claims-full``).

A Hydra sweep is a cartesian grid, and the two sides need different grids (the sampled width
ladder; each backprop method with its own learning rates), so the claims experiment is six
sub-experiments run in turn (``conf/experiment/claims_*.yaml``, ``*_lite`` for a 2-core
workstation) into ONE results folder, ``RESULTS_DIR/claims[-lite][-cuda]/``, whose report
(``report/report.md``, ``report.html``) opens with the claims check: the sampled ladder, the
three backprop baselines within a fixed budget (8 s lite, 1 h full), and the two strongest
baselines, L-BFGS and adam_tuned, at convergence (``claims_converged_*``: until the plateau rule
ends the run, with a stated cap; each record's ``stopped_by`` / ``converged`` say whether it
converged or reached the cap).

Positional arguments are Hydra overrides for every sub-experiment; prefix one with ``sampled:``
or ``backprop:`` to give it to one side only (``backprop:adam_max_seconds=60``).
``--backprop-hardware cuda`` moves only the backprop side to the GPU (the workshop claim: sampled
on the CPU vs HNNs trained on a GPU); its results go to their own ``…-cuda`` folder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hnnbench import sweeps
from hnnbench.experiments import pipeline_command

Side = Literal["sampled", "backprop"]
SIDES: tuple[Side, ...] = ("sampled", "backprop")


@dataclass(frozen=True)
class Part:
    name: str  # conf/experiment/<name>.yaml (full) and <name>_lite.yaml
    side: Side


PARTS = (
    Part("claims_sampled", "sampled"),
    Part("claims_adam", "backprop"),
    Part("claims_adam_tuned", "backprop"),
    Part("claims_lbfgs", "backprop"),
    Part("claims_converged_lbfgs", "backprop"),
    Part("claims_converged_adam_tuned", "backprop"),
)


def experiment_name(part: Part, lite: bool) -> str:
    return f"{part.name}_lite" if lite else part.name


def select(lite: bool, only: Sequence[str] | None) -> tuple[Part, ...]:
    """The parts named in ``only`` (experiment names, with or without ``_lite``, or a side)."""
    if not only:
        return PARTS
    names = {p.name for p in PARTS} | {experiment_name(p, lite) for p in PARTS} | set(SIDES)
    unknown = sorted(set(only) - names)
    if unknown:
        raise ValueError(f"unknown claims part {unknown}; allowed: {sorted(names)}")
    return tuple(
        p for p in PARTS if {p.name, experiment_name(p, lite), p.side} & set(only)
    )  # fmt: skip


def split_overrides(overrides: Sequence[str], backprop_hardware: str) -> dict[Side, list[str]]:
    """Overrides per side: unprefixed ones go to both, ``sampled:``/``backprop:`` to one."""
    out: dict[Side, list[str]] = {side: [] for side in SIDES}
    for override in overrides:
        side, _, rest = override.partition(":")
        if rest and side in SIDES:
            out[side].append(rest)  # type: ignore[index]
        else:
            for values in out.values():
                values.append(override)
    if backprop_hardware != "cpu":
        out["backprop"].append(f"hardware={backprop_hardware}")
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = sweeps.parser(
        "python -m hnnbench.claims", __doc__, "sub-experiments (names) or a side (sampled/backprop)"
    )
    parser.add_argument(
        "--backprop-hardware",
        default="cpu",
        choices=["cpu", "cuda"],
        help="hardware= of the backprop sub-experiments only (sampled stays on the CPU)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        help="Hydra overrides for every sub-experiment; prefix sampled: or backprop: for one side",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run (unless --report-only) and report; 1 when a sub-experiment failed or nothing to
    report, 2 on bad arguments."""
    args = parse(argv)
    chosen = sweeps.selected(select, args)
    if chosen is None:
        return 2
    suffix = ("-lite" if args.lite else "") + (
        "" if args.backprop_hardware == "cpu" else f"-{args.backprop_hardware}"
    )
    out = args.results_dir / f"claims{suffix}"
    on_cpu = args.backprop_hardware == "cpu"
    hardware = [] if on_cpu else ["--backprop-hardware", args.backprop_hardware]
    pipeline = sweeps.Pipeline(
        tag="claims",
        command=pipeline_command("claims", args.lite, *hardware),
        title=f"hnnbench: the press-release claims{' (lite)' if args.lite else ''}",
        runs_title="Claims experiments",
        results_dir=out,  # every sub-experiment's records land under out/<name>/
        out=out,
        record_dirs=(out,),
    )
    overrides = split_overrides(args.overrides, args.backprop_hardware)
    plan = [(experiment_name(p, args.lite), overrides[p.side]) for p in chosen]
    return sweeps.run_then_report(pipeline, plan, args.dry_run, args.report_only, args.refuse_busy)


if __name__ == "__main__":
    sys.exit(main())

"""The docs: the README stays a README whose links resolve; the generated reference covers every
config file and record field and fails on drift; every `hnnbench` command the docs show composes
and passes the run checks, and each bad-input example fails with exactly the line shown.

The site itself is built by `make docs` (`mkdocs build --strict`, in CI after `make test`).
"""

from __future__ import annotations

import importlib.util
import re
import shlex

import pytest

from conftest import CONF, ROOT, markdown_rows
from hnnbench import cli, doctor
from hnnbench.record import FIELDS

README = ROOT / "README.md"
PAGES = [README, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: a command in an indented code block: `hnnbench ARGS`, `python -m hnnbench ARGS`, or an example
#: session line `$ hnnbench ARGS`
BLOCK_COMMAND = re.compile(r"^ {4}(\$ )?(?:python -m )?hnnbench (.*)$", flags=re.M)
INLINE_COMMAND = re.compile(r"`hnnbench ([^`]*)`")
#: the real job list, for the first-and-last stand-in below
cli_sweep_jobs = cli.sweep_jobs


def load_hook():
    path = ROOT / "docs" / "hooks" / "generated.py"
    spec = importlib.util.spec_from_file_location("docs_generated", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generated = load_hook()


# ---------------------------------------------------------------- README


def test_readme_is_a_readme_and_its_links_resolve():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    links = re.findall(r"\]\(([^)#\s]+)[^)]*\)", text)
    assert links, "the README maps the docs"
    missing = [link for link in links if "://" not in link and not (ROOT / link).exists()]
    assert not missing


# ---------------------------------------------------------------- generated reference


def test_config_reference_lists_every_yaml_file_with_its_text():
    text = generated.fill("<!-- generated: config-groups -->")
    options = [p for p in CONF.rglob("*.yaml") if p.parent != CONF]
    assert len(options) > 40
    for path in options:
        assert f'"{path.relative_to(CONF).as_posix()}"' in text, path  # its collapsed block
    bench = (CONF / "experiment" / "bench.yaml").read_text()
    assert all(f"    {line}" in text for line in bench.splitlines() if line)
    row = next(r for r in markdown_rows(text) if r[0] == "`bench`")
    assert "make bench" in row[1] and "`trainer=aswim,adam`" in row[4]
    lite = next(r for r in markdown_rows(text) if r[0] == "`rcond_sweep_lite`")
    assert lite[2] == "`rcond_sweep`" and "`hidden_width=500`" in lite[3]


def test_record_reference_has_every_field_in_order():
    rows = markdown_rows(generated.fill("<!-- generated: record-fields -->"))
    assert [r[0].strip("`") for r in rows[2:]] == list(FIELDS)
    by_name = {r[0].strip("`"): r for r in rows[2:]}
    assert by_name["test_H_rel_l2"][1] == "metric"
    assert "null without a Hamiltonian" in by_name["test_H_rel_l2"][2]
    assert "higher is better" in by_name["valid_prediction_time"][2]


def test_an_undescribed_or_unknown_record_field_fails_the_build(monkeypatch):
    monkeypatch.delitem(generated.FIELD_DOCS, "run_id")
    with pytest.raises(ValueError, match=r"undescribed fields \['run_id'\]"):
        generated.fill("<!-- generated: record-fields -->")
    monkeypatch.setitem(generated.FIELD_DOCS, "run_id", "back")
    monkeypatch.setitem(generated.FIELD_DOCS, "gone", "a field the record no longer has")
    with pytest.raises(ValueError, match=r"descriptions of no field \['gone'\]"):
        generated.fill("<!-- generated: record-fields -->")


def test_an_unknown_generated_block_fails_and_pages_use_known_ones():
    with pytest.raises(ValueError, match=r"unknown generated block 'nope'; allowed: \["):
        generated.fill("<!-- generated: nope -->")
    used = {m for page in PAGES for m in generated.MARKER.findall(page.read_text())}
    assert used == set(generated.GENERATORS)


# ---------------------------------------------------------------- the commands shown


def shown_commands() -> tuple[list[str], list[tuple[str, str]]]:
    """(good commands, (bad command, its error line)) shown in the README and the docs, each
    command as its arguments re-joined without the trailing comment."""
    good, bad = set(), []
    for page in PAGES:
        text = page.read_text()
        lines = text.splitlines()
        for match in BLOCK_COMMAND.finditer(text):
            args = shlex.join(shlex.split(match[2], comments=True))
            if match[1]:  # `$ hnnbench ...` then its output line
                index = text[: match.start()].count("\n")
                bad.append((args, lines[index + 1].strip()))
            else:
                good.add(args)
        inline = INLINE_COMMAND.findall(text.replace("\n", " "))
        good |= {shlex.join(shlex.split(c, comments=True)) for c in inline}
    good = {c for c in good if "NAME" not in c and "searchpath" not in c}  # test_extending
    good = {c for c in good if not c.startswith("doctor")}  # not Hydra: test_doctor_commands
    # a SLURM sweep's preflight asks the cluster (sinfo): tests/cluster/ runs those on one
    good = {c for c in good if "hydra/launcher=slurm" not in c}
    return sorted(good), bad


def doctor_commands() -> list[str]:
    """`hnnbench doctor ...` as shown in the docs (the machine check, not a Hydra run)."""
    found = set()
    for page in PAGES:
        text = page.read_text()
        found |= {m[2] for m in BLOCK_COMMAND.finditer(text)}
        found |= set(INLINE_COMMAND.findall(text.replace("\n", " ")))
    return sorted(c for c in found if c.startswith("doctor"))


def test_doctor_commands_parse():
    shown = doctor_commands()
    assert shown
    for command in shown:
        doctor.parser().parse_args(shlex.split(command, comments=True)[1:])


def test_the_docs_show_commands():
    good, bad = shown_commands()
    assert len(good) >= 20 and len(bad) == 3


@pytest.mark.parametrize("command", shown_commands()[0])
def test_every_shown_command_composes_and_passes_the_checks(command, tmp_path, monkeypatch):
    """What `hnnbench COMMAND` checks before it starts, for the first and last job of a sweep
    (checking every job of the cluster-sized sweeps takes minutes)."""
    jobs_seen = []

    def first_and_last(config):
        jobs = cli_sweep_jobs(config)
        jobs_seen.append(len(jobs))
        return jobs[:1] + jobs[-1:]

    monkeypatch.setattr(cli, "sweep_jobs", first_and_last)
    args = shlex.split(command)
    cli.preflight([*args, f"results_dir={tmp_path}"])
    assert ("-m" in args) == bool(jobs_seen) and all(jobs_seen)


@pytest.mark.parametrize("command, line", shown_commands()[1])
def test_every_bad_input_example_fails_with_the_line_shown(command, line, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.preflight(shlex.split(command))
    assert exit_.value.code == 2
    assert capsys.readouterr().err == line + "\n"


def test_pages_mention_only_existing_repository_files():
    """Paths written in code spans (`hnnbench/...`, `tests/...`, `benchmarks/...`, `docs/...`)."""
    pattern = re.compile(r"`((?:hnnbench|tests|benchmarks|docs|conf|systems)/[\w./-]+?)`")
    missing = {
        (page.name, path)
        for page in PAGES
        for path in pattern.findall(page.read_text())
        if "*" not in path and "<" not in path and not (ROOT / path.rstrip("/")).exists()
    }
    assert not missing

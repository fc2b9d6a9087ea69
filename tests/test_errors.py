"""Bad input ends the command before any work: one line on stderr, exit status 2, no record.

A dozen cases run the real command line (each process costs ~2.5 s); the rest go in-process
through ``runner.check``, the function the command line runs on every job before Hydra starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import run_hnnbench
from hnnbench.checks import ConfigError, integer, number
from hnnbench.cli import preflight
from hnnbench.record import find_records
from hnnbench.runner import check, run
from test_config import composed

#: (command line, text the one line must contain): one case per path an error can take;
#: {file} is a plain file. More values go in-process below.
COMMAND_LINE_CASES = [
    (["hidden_width=abc"], "hidden_width='abc' must be an integer >= 1"),  # run_spec.validate
    (["trainer=nope"], "Could not find 'trainer/nope'; allowed: ['adam', 'adam_chaotic'"),  # Hydra
    (["foo=1"], "Could not override 'foo'"),  # Hydra, with OmegaConf's cause
    (["trainer.solver=magic"], "trainer: unknown solver 'magic'; allowed: ['gelsd'"),  # trainer
    (["system.domain=[[1,-1],[0,1]]"], "system: domain coordinate 0 has low 1.0 >= high -1.0"),
    (["results_dir=/proc/nope"], "results_dir='/proc/nope' is not a writable folder"),
    # a sweep: the second job's value ends it before the first job runs
    (["-m", "hidden_width=8,0"], "hidden_width=0 must be >= 1"),
]


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("hnnbench: error: ")
    return lines[0]


@pytest.mark.parametrize(("argv", "message"), COMMAND_LINE_CASES)
def test_bad_input_is_one_line_and_exit_2_before_any_work(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    flags = argv[:1] if argv[0] == "-m" else []  # Hydra's parser wants flags first
    common = [f"results_dir={tmp_path / 'results'}", "name=t", "train_points=50"]
    result = run_hnnbench([*flags, *common, *argv[len(flags) :]], tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert message in line
    assert not find_records(tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_is_one_line(tmp_path: Path) -> None:
    result = run_hnnbench([f"results_dir={tmp_path}", "hardware=cuda"], tmp_path)
    assert result.returncode == 2
    assert "no CUDA GPU is available; use hardware=cpu" in one_error_line(result.stderr)


def test_hydra_full_error_shows_the_traceback(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    result = run_hnnbench([f"results_dir={tmp_path}", "hidden_width=abc"], tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "ConfigError: hidden_width='abc' must be an integer >= 1" in result.stderr


#: (overrides, regular expression the ConfigError must match), checked in-process
CHECK_CASES = [
    (["hidden_width=1.5"], r"^hidden_width=1\.5 must be an integer >= 1$"),
    (["hidden_width=true"], r"^hidden_width=True must be an integer >= 1$"),
    (["hidden_width=-1"], r"^hidden_width=-1 must be >= 1$"),
    (["train_points=abc"], r"^train_points='abc' must be an integer >= 2$"),
    (["test_points=0"], r"^test_points=0 must be >= 1$"),
    (["seed=-1"], r"^seed=-1 must be >= 0$"),
    (["seed=x"], r"^seed='x' must be an integer >= 0$"),
    (["data_seed=1.5"], r"^data_seed=1\.5 must be an integer >= 0 \(or null: from seed\)$"),
    (["noise_std=abc"], r"^noise_std='abc' must be a finite number >= 0$"),
    (["noise_std=inf"], r"^noise_std=inf must be a finite number >= 0$"),
    (["noise_std=-0.1"], r"^noise_std=-0\.1 must be >= 0$"),
    (["hardware.threads=0"], r"^hardware\.threads=0 must be >= 1 \(or null: all cores\)$"),
    (["hardware.threads=1.5"], r"^hardware\.threads=1\.5 must be an integer >= 1"),
    (["hardware.threads=abc"], r"^hardware\.threads='abc' must be an integer"),
    (["hardware.dtype=float16"], r"^unknown hardware\.dtype 'float16'; allowed: \['float32', "),
    (["hardware.device=tpu"], r"^unknown hardware\.device 'tpu'; allowed: \['cpu', 'cuda'\]$"),
    (["trainer.solver=magic"], r"^trainer: unknown solver 'magic'; allowed: \['gelsd', "),
    (["trainer.rcond=0"], r"^trainer: rcond=0 must be in \(0, 1\) or 'auto'$"),
    (["trainer.rcond=-1e-3"], r"^trainer: rcond=-0\.001 must be in \(0, 1\) or 'auto'$"),
    (["trainer.rcond=abc"], r"^trainer: rcond='abc' must be a finite number in \(0, 1\) or 'auto'"),
    (["trainer.method=nope"], r"^trainer: unknown method 'nope'; allowed: \['aswim', 'elm', "),
    (["trainer.first_pass_points=1"], r"^trainer: first_pass_points=1 must be >= 2"),
    (["trainer.first_pass_solver=x"], r"^trainer: unknown solver 'x'"),
    (["+trainer.foo=1"], r"^trainer: .*unexpected keyword argument 'foo'$"),
    (["trainer._target_=nowhere.Nothing"], r"^trainer: Error locating target 'nowhere\.Nothing'"),
    (["trainer=adam", "trainer.steps=0"], r"^trainer: steps=0 must be >= 1$"),
    (["trainer=adam", "trainer.lr=-1"], r"^trainer: lr=-1 must be > 0$"),
    (["trainer=adam", "trainer.batch_size=abc"], r"^trainer: batch_size='abc' must be an integer"),
    (["trainer=adam", "trainer.batch_size=-3"], r"^trainer: batch_size=-3 must be an integer >= 1"),
    (["trainer=adam", "trainer.grad_mode=x"], r"^trainer: unknown grad_mode 'x'; allowed"),
    (["trainer=adam", "trainer.weight_decay=-1"], r"^trainer: weight_decay=-1 must be >= 0$"),
    (["adam_steps=abc"], r"^adam_steps='abc' must be an integer >= 1$"),
    (["adam_max_seconds=0"], r"^adam_max_seconds=0 must be > 0 \(or null: no time cap\)$"),
    (["evaluation.threshold=0"], r"^evaluation\.threshold=0 must be > 0$"),
    (["evaluation.energy_floor=-1"], r"^evaluation\.energy_floor=-1 must be > 0$"),
    (["evaluation.rollouts=0"], r"^evaluation\.rollouts=0 must be >= 1$"),
    (["evaluation.horizon=-1"], r"^evaluation\.horizon=-1 must be > 0$"),
    (["evaluation.dt=0"], r"^evaluation\.dt=0 must be > 0$"),
    (["evaluation.integrator=euler"], r"^unknown evaluation\.integrator 'euler'; allowed: "),
    # rollout initial states and divergence (data.rollout_states, evaluate.rollout_metrics)
    (
        ["evaluation.initial_states=sphere"],
        r"^unknown evaluation\.initial_states 'sphere'; allowed: \['auto', 'box', 'shells'\]$",
    ),
    (
        ["evaluation.shell_fractions=[0.5,1.2]"],
        r"^evaluation\.shell_fractions entry=1\.2 must be in \(0, 1\)$",
    ),
    (["evaluation.shell_fractions=[]"], r"^evaluation\.shell_fractions=\[\] must be a non-empty"),
    (["evaluation.shell_fractions=0.5"], r"^evaluation\.shell_fractions=0\.5 must be a non-empty"),
    (["evaluation.divergence_scale=1"], r"^evaluation\.divergence_scale=1 must be > 1$"),
    (
        ["system=spring", "evaluation.initial_states=shells"],
        r"^evaluation\.initial_states=shells: Spring\(m=1, k=1\) has no escape energy; "
        r"allowed here: auto, box$",
    ),
    (
        ["system=henon_heiles", "system.alpha=0.1", "evaluation.initial_states=shells"],
        r"^evaluation\.initial_states=shells: HenonHeiles\(alpha=0\.1\) has its well at "
        r"H = 15 reaching beyond the domain; allowed here: auto, box$",
    ),
    (["energy.enabled=maybe"], r"^energy\.enabled='maybe' must be true or false$"),
    (["save_model=1"], r"^save_model=1 must be true or false$"),
    (["name=a/b"], r"^name='a/b' must be a folder name \(text without '/'\)$"),
    (["name=''"], r"^name='' must be a folder name"),
    (["system.m=0"], r"^system: parameter m=0 of 'pendulum' must be > 0$"),
    (["system=spring", "system.k=stiff"], r"^system: parameter k='stiff' of 'spring' must be a"),
    (["system.domain=[[0,1]]"], r"^system: domain \[\[0, 1\]\] has shape \(1, 2\); expected 2 "),
    (["system.domain=abc"], r"^system: domain 'abc' is not a list of \[low, high\] pairs$"),
    (["+system.mass=1"], r"^system: unknown parameter 'mass' for system 'pendulum'"),
    (["hidden_width=${nope}"], r"^hidden_width: Interpolation key 'nope' not found$"),
    # data sources and the backward-error correction (conf/data/, evaluation.correction)
    (["data.source=nope"], r"^unknown data\.source 'nope'; allowed: \['derivatives', 'published'"),
    (["data=snapshots", "data.dt_obs=0"], r"^data\.dt_obs=0 must be > 0$"),
    (["data=trajectories", "data.dt_obs=-0.1"], r"^data\.dt_obs=-0\.1 must be > 0$"),
    (["data=trajectories", "data.observations=1"], r"^data\.observations=1 must be >= 2$"),
    (["data=trajectories", "data.trajectories=0"], r"^data\.trajectories=0 must be >= 1 \(or"),
    (["data=trajectories", "data.trajectories=7"], r"^data\.trajectories=7 × \(data\.obs"),
    (["data=snapshots", "data.state_noise_std=-1"], r"^data\.state_noise_std=-1 must be >= 0$"),
    (["data=trajectories", "data.state_noise_std=-1e-3"], r"^data\.state_noise_std=-0\.001 must"),
    (["data=snapshots", "noise_std=0.1"], r"^noise_std=0\.1 is noise on exact derivatives; with"),
    (["evaluation.correction=first"], r"^evaluation\.correction='first' corrects an Ĥ learned"),
    (["evaluation.correction=third"], r"^unknown evaluation\.correction 'third'; allowed: "),
    (
        ["trainer=smlp", "data=snapshots", "evaluation.correction=first"],
        r"^evaluation\.correction='first' corrects a learned Ĥ, and trainer 'smlp_elm' learns",
    ),
    (
        ["trainer=adam_mlp", "data=snapshots", "evaluation.correction=second"],
        r"^evaluation\.correction='second' corrects a learned Ĥ, and trainer 'adam_mlp' learns",
    ),
]


@pytest.mark.parametrize(("overrides", "pattern"), CHECK_CASES)
def test_check_rejects_with_a_message_naming_the_value(
    tmp_path: Path, overrides: list[str], pattern: str
) -> None:
    cfg = composed(f"results_dir={tmp_path / 'results'}", *overrides)
    with pytest.raises(ConfigError, match=pattern) as err:
        check(cfg)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "results").exists()  # rejected before anything is written


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda tmp: tmp / "a_file", r"^results_dir='.*a_file' is a file, not a folder$"),
        (
            lambda tmp: tmp / "a_file" / "below",
            r"^results_dir='.*below' is not a writable folder: Not a directory",
        ),
    ],
)
def test_results_dir_must_be_a_writable_folder(tmp_path: Path, make, pattern: str) -> None:
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ConfigError, match=pattern):
        check(composed(f"results_dir={make(tmp_path)}"))


def test_a_rejected_run_writes_no_record(tmp_path: Path) -> None:
    cfg = composed(f"results_dir={tmp_path}", "trainer.solver=magic", "train_points=50")
    with pytest.raises(ConfigError):
        run(cfg)
    assert not find_records(tmp_path)  # not even a 'failed' one: nothing was tried


def test_a_good_configuration_passes_and_creates_the_results_folder(tmp_path: Path) -> None:
    spec = check(composed(f"results_dir={tmp_path / 'new'}", "system=spring"))
    assert spec.system.name == "spring" and spec.trainer.hidden_width == 200
    assert spec.source.source == "derivatives" and spec.task is None
    assert (tmp_path / "new").is_dir() and not list((tmp_path / "new").iterdir())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-m", "trainer=aswim,nope"], "Could not find 'trainer/nope'; allowed: ["),
        (["-m", "system=spring,pendulum", "system.k=0"], "Could not override 'system.k'"),
        (["hidden_width=1,2"], "Ambiguous value for argument 'hidden_width=1,2'"),
        (["hidden_width=["], "cannot parse the override 'hidden_width=['"),
        (["-m", "experiment=smoke", "evaluation.dt=0"], "evaluation.dt=0 must be > 0"),
        (["train_points=1"], "train_points=1 must be >= 2"),
        (["hardware.threads=-1"], "hardware.threads=-1 must be >= 1 (or null: all cores)"),
        (["evaluation.integrator=euler"], "unknown evaluation.integrator 'euler'; allowed: ["),
        (["data=nope"], "Could not find 'data/nope'; allowed: ['derivatives', 'published', 'real"),
        (["trainer=adam", "trainer.lr=0"], "trainer: lr=0 must be > 0"),
        (["-m", "system=spring", "results_dir={file}"], "is a file, not a folder"),
    ],
)
def test_preflight_reports_hydras_errors_and_every_job_in_one_line(
    tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    (tmp_path / "a_file").write_text("")
    argv = [f"results_dir={tmp_path}", *(a.format(file=tmp_path / "a_file") for a in argv)]
    with pytest.raises(SystemExit) as exit_:
        preflight(sorted(argv, key=lambda a: a != "-m"))  # flags first
    assert exit_.value.code == 2
    assert message in one_error_line(capsys.readouterr().err)


def test_preflight_passes_good_input_and_leaves_hydras_own_flags_alone(tmp_path: Path) -> None:
    preflight(["-m", "experiment=smoke", f"results_dir={tmp_path}"])
    preflight(["system=spring", f"results_dir={tmp_path}"])
    preflight(["--cfg", "job", "hidden_width=abc"])  # prints the config; nothing runs


def test_message_helpers() -> None:
    assert integer("k", None, 1, null="auto") is None
    with pytest.raises(ConfigError, match=r"^k=None must be an integer >= 1$"):
        integer("k", None, 1)
    assert number("x", 2, minimum=0, below=3) == 2
    with pytest.raises(ConfigError, match=r"^x=3 must be >= 0 and < 3$"):
        number("x", 3, minimum=0, below=3)
    with pytest.raises(ConfigError, match=r"^x=nan must be a finite number$"):
        number("x", float("nan"))

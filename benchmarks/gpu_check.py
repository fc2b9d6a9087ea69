"""CPU versus CUDA sampled fits: time and agreement of the test errors (issue 6, item 5).

    python benchmarks/gpu_check.py

Double pendulum, 20 000 training points, U-SWIM, widths 1000 and 5000, float64, default solver
(qr_ridge: on CUDA the streamed torch.geqrf of [S | ẋ], a QR of the stacked reduced system, a QR
of [T; λI] and a triangular solve — the path tests/test_lstsq.py also runs on the CPU). The
hidden layer is drawn on the host from the model seed, so both devices fit the same network.
Without CUDA it prints "no CUDA device: skipped" and exits 0.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hnnbench import systems  # noqa: E402
from hnnbench.data import make_dataset  # noqa: E402
from hnnbench.evaluate import rel_l2  # noqa: E402
from hnnbench.trainers import SampledTrainer  # noqa: E402

WIDTHS, POINTS, TEST_POINTS = (1000, 5000), 20_000, 20_000
AGREE = 3.0  # test errors must agree within this factor (same network, different BLAS)


def fit(data, width: int, device: str) -> tuple[float, float, int]:
    trainer = SampledTrainer(width, method="uswim", device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    net = trainer.fit(data)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    error = rel_l2(data.H_test, net.predict_H(data.x_test))
    return seconds, error, trainer.fit_info_["effective_rank"]


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: skipped")
        return 0
    print(f"GPU: {torch.cuda.get_device_name(0)}; CPU threads: {torch.get_num_threads()}")
    data = make_dataset(systems.get("double_pendulum"), POINTS, TEST_POINTS, data_seed=3943)
    fit(data, 100, "cuda")  # warm-up: CUDA context, cuSOLVER handles
    ok = True
    print("| width | CPU s | GPU s | speed-up | CPU error | GPU error | CPU rank | GPU rank |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for width in WIDTHS:
        cpu_s, cpu_err, cpu_rank = fit(data, width, "cpu")
        gpu_s, gpu_err, gpu_rank = fit(data, width, "cuda")
        agree = max(cpu_err, gpu_err) <= AGREE * min(cpu_err, gpu_err)
        ok &= agree
        flag = "" if agree else " DISAGREE"
        print(f"| {width} | {cpu_s:.2f} | {gpu_s:.2f} | {cpu_s / gpu_s:.1f} | {cpu_err:.3e} | "
              f"{gpu_err:.3e} | {cpu_rank} | {gpu_rank} |{flag}")  # fmt: skip
    print("errors agree" if ok else f"errors differ by more than {AGREE}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

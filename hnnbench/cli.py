"""The Hydra entry point: compose the config, run one configuration, write its record.

hnnbench system=henon_heiles trainer=aswim
hnnbench -m system=pendulum,spring trainer=aswim,adam seed=0,1,2
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from hnnbench.runner import run

#: conf/ at the top of the checkout (hnnbench is installed editable from it)
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> str:
    return run(cfg)


if __name__ == "__main__":
    main()

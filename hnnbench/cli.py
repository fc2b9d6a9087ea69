"""The Hydra entry point: compose the config, run one configuration, write its record.

hnnbench system=henon_heiles trainer=aswim
hnnbench -m system=pendulum,spring trainer=aswim,adam seed=0,1,2
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from hnnbench.runner import run

#: the configs ship inside the package (hnnbench/conf; the checkout's top-level conf/ links here)
CONFIG_DIR = "conf"


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> str:
    return run(cfg)


if __name__ == "__main__":
    main()

"""r1ci's one entry point: compose the config, validate it, run the chosen stage.

    python launch.py                                   # the default stage on the tiny model (CPU)
    python launch.py stage=prepare_data task_mix=bbh   # any stage, any option of any config group
    python launch.py -m experiment=curriculum_ablation launcher=slurm model=qwen2.5-7b
"""

from __future__ import annotations

import importlib
import logging
import sys

import hydra
from omegaconf import DictConfig

from r1ci.config import ConfigError, register_configs, validate
from r1ci.runtime import output_dir
from r1ci.tracking import wandb_run

log = logging.getLogger("r1ci")
register_configs()


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    try:
        typed = validate(cfg)  # every stage and component reads this typed config (r1ci/config.py)
        stage = importlib.import_module(f"r1ci.stages.{typed.stage.name}")
        if getattr(stage, "TRACKED", True):  # its W&B run, opened and closed here only
            with wandb_run(typed, output_dir(typed), job_type=typed.stage.name) as wb:
                results = stage.run(typed, wb)
        else:
            results = stage.run(typed)
    except ConfigError as err:  # a bad value: say which key, no traceback
        print(f"r1ci: invalid config: {err}", file=sys.stderr)
        sys.exit(2)
    log.info("stage %s finished: %s", cfg.stage.name, results)
    # Returned for Hydra sweepers (e.g. Optuna) that optimise a metric.
    metric = results.get("metric") if isinstance(results, dict) else None
    return float(metric) if metric is not None else None


if __name__ == "__main__":
    main()

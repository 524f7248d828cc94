"""Hyper-parameter search for the hybrid model: Optuna's TPE sampler with a Hyperband
pruner (the open-source form of the paper's BOHB), in an SQLite study that resumes.

Each trial trains the hybrid on the temporal split's training months and is judged on its
validation months only (the test months play no part). Epochs run one at a time through
the shared loop's checkpoints, so that the pruner sees the validation loss of each epoch
and a trial interrupted mid-way resumes from its last epoch.
"""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
import tomli_w

from gracefuse.config import dump_recipe
from gracefuse.errors import ConfigError
from gracefuse.io import write_text
from gracefuse.methods.hybrid.config import HybridRecipe
from gracefuse.methods.hybrid.method import load_hybrid_data
from gracefuse.methods.hybrid.run import split_names
from gracefuse.methods.hybrid.series import HybridData
from gracefuse.methods.hybrid.splits import Roles, temporal_roles
from gracefuse.methods.hybrid.train import fit_member

log = logging.getLogger(__name__)


def suggest(trial: optuna.Trial, recipe: HybridRecipe) -> HybridRecipe:
    """The recipe with this trial's settings (Kraft et al.'s search space, narrowed)."""
    hybrid = recipe.hybrid.model_copy(update={
        "hidden": trial.suggest_categorical("hidden", [32, 64, 100, 150]),
        "branch_width": trial.suggest_categorical("branch_width", [16, 32, 64]),
        "task_lr": trial.suggest_float("task_lr", 1e-3, 5e-2, log=True),
        "groundwater_weight": trial.suggest_float("groundwater_weight", 0.1, 10.0, log=True),
    })  # fmt: skip
    train = recipe.train.model_copy(update={
        "lr": trial.suggest_float("lr", 1e-3, 3e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
    })  # fmt: skip
    dropout = trial.suggest_float("dropout", 0.0, 0.4)
    models = [m.model_copy(update={"dropout": dropout}) for m in recipe.models
              if m.name == "hybrid"]  # fmt: skip
    return recipe.model_copy(update={"hybrid": hybrid, "train": train, "models": models})


def tuning_roles(recipe: HybridRecipe, data: HybridData) -> Roles:
    """The temporal split a trial trains on: its validation months held out to judge it,
    whatever the recipe's ``refit``."""
    held_out = recipe.hybrid.model_copy(update={"refit": False})
    return temporal_roles(data, held_out, split_names(data)[0])


def _objective(recipe: HybridRecipe, data: HybridData, folder: Path, epochs: int):
    roles = tuning_roles(recipe, data)

    def objective(trial: optuna.Trial) -> float:
        r = suggest(trial, recipe)
        mc = r.models[0]
        ckpt = folder / f"trial_{trial.number}"
        best = float("inf")
        for epoch in range(epochs):
            *_, result = fit_member(mc, r, data, roles, ckpt, False, 0, epochs, stop_after=1)
            val = result.history[-1]["val_loss"] if result.history else float("inf")
            best = min(best, val)
            trial.report(val, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
            if result.stopped_early:
                break
        return best

    return objective


def tune(recipe: HybridRecipe, folder: Path, trials: int, epochs: int | None = None) -> dict:
    """Run the search until the study in ``folder/tune.sqlite`` has ``trials`` finished
    trials; write the best settings as ``folder/best.toml`` (a recipe) and return them."""
    if not any(m.name == "hybrid" for m in recipe.models):
        raise ConfigError("tune: the recipe has no hybrid model in [[models]]")
    folder.mkdir(parents=True, exist_ok=True)
    data = load_hybrid_data(recipe)
    n_epochs = epochs or recipe.train.epochs
    study = optuna.create_study(
        study_name=recipe.name, storage=f"sqlite:///{folder / 'tune.sqlite'}",
        load_if_exists=True, direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=recipe.hybrid.seed),
        pruner=optuna.pruners.HyperbandPruner(min_resource=2, max_resource=n_epochs),
    )  # fmt: skip
    done = [t for t in study.trials if t.state.is_finished()]
    remaining = max(trials - len(done), 0)
    if remaining:
        study.optimize(_objective(recipe, data, folder, n_epochs), n_trials=remaining)
    best = study.best_trial
    tuned = suggest(optuna.trial.FixedTrial(best.params), recipe)
    write_text(folder / "best.toml", dump_recipe(tuned))
    summary = {"best_value": best.value, "params": best.params, "trials": len(study.trials)}
    write_text(
        folder / "best_params.toml",
        tomli_w.dumps({"best_value": float(best.value), "params": best.params}),
    )
    return summary

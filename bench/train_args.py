"""Fine-tuning flags shared by the benches that train a classifier (support, sentiment)."""

from __future__ import annotations

import argparse
from typing import Any


def train_args_add(
    parser: argparse.ArgumentParser,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    neighbours: int = 0,
    layer_lr_decay: float = 1.0,
    adversarial_eps: float = 0.0,
    label_offsets: bool = False,
) -> None:
    parser.add_argument("--epochs", type=int, default=epochs, help="fine-tuning epochs")
    parser.add_argument("--lr", type=float, default=lr, help="encoder learning rate")
    parser.add_argument("--batch-size", type=int, default=batch_size, help="training batch size")
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--head-lr-multiplier", type=float, default=1.0, help="head lr = lr x this")
    parser.add_argument("--head-init", choices=("random", "centroids"), default="random")
    parser.add_argument(
        "--unfreeze-embeddings", action="store_true", help="also train the word embeddings"
    )
    parser.add_argument(
        "--neighbours", type=int, default=neighbours, help="k of the neighbour vote (0: head only)"
    )
    parser.add_argument(
        "--average-epochs", type=int, default=0, help="try the mean of the last N epochs' weights"
    )
    parser.add_argument(
        "--ensemble", type=int, default=1, help="members trained with seeds seed, seed+1, ..."
    )
    parser.add_argument(
        "--distil",
        type=int,
        default=0,
        help="train an ensemble of N teachers, then serve one student distilled from them",
    )
    parser.add_argument(
        "--distil-weight", type=float, default=0.5, help="teacher share of the student's target"
    )
    parser.add_argument(
        "--layer-lr-decay",
        type=float,
        default=layer_lr_decay,
        help="lr factor per layer below the top",
    )
    parser.add_argument("--rdrop", type=float, default=0.0, help="R-Drop KL weight (0: off)")
    parser.add_argument(
        "--adversarial-eps",
        type=float,
        default=adversarial_eps,
        help="FGM step on the embeddings (0: off)",
    )
    parser.add_argument(
        "--label-offsets",
        action=argparse.BooleanOptionalAction,
        default=label_offsets,
        help="choose per-label log-probability offsets on validation",
    )
    parser.add_argument("--reinit-layers", type=int, default=0, help="top layers restarted")
    parser.add_argument("--patience", type=int, default=2, help="early-stopping patience")
    parser.add_argument("--seed", type=int, default=None, help="training seed")


def train_config_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """TrainConfig fields the flags set (seed only where given)."""
    kwargs: dict[str, Any] = {
        "epochs": args.epochs,
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "label_smoothing": args.label_smoothing,
        "head_lr_multiplier": args.head_lr_multiplier,
        "head_init": args.head_init,
        "freeze_word_embeddings": not args.unfreeze_embeddings,
        "patience": args.patience,
        "neighbours_k": args.neighbours,
        "average_epochs": args.average_epochs,
        "ensemble": args.ensemble,
        "distil_from": args.distil,
        "distil_weight": args.distil_weight,
        "layer_lr_decay": args.layer_lr_decay,
        "rdrop_alpha": args.rdrop,
        "adversarial_eps": args.adversarial_eps,
        "reinit_layers": args.reinit_layers,
        "label_offsets": args.label_offsets,
    }
    if args.seed is not None:
        kwargs["seed"] = args.seed
    return kwargs


def train_config_describe(config: Any) -> str:
    return (
        (f"an ensemble of {config.ensemble} members, " if config.ensemble > 1 else "")
        + (
            f"one student distilled (weight {config.distil_weight}) from an ensemble of "
            f"{config.distil_from} teachers, "
            if config.distil_from > 1
            else ""
        )
        + f"{config.epochs} epochs, lr {config.learning_rate} (head x{config.head_lr_multiplier}, "
        f"{config.head_init} init), max_length {config.max_length}, batch {config.batch_size}, "
        f"label smoothing {config.label_smoothing}, {config.pooling} pooling, word embeddings "
        f"{'frozen' if config.freeze_word_embeddings else 'trained'}, seed {config.seed}, "
        + (
            f"{config.neighbours_k}-nearest-neighbour vote mixed in"
            if config.neighbours_k
            else "no neighbour vote"
        )
        + (f", mean of last {config.average_epochs} epochs tried" if config.average_epochs else "")
        + (f", layer lr decay {config.layer_lr_decay}" if config.layer_lr_decay < 1 else "")
        + (f", R-Drop {config.rdrop_alpha}" if config.rdrop_alpha else "")
        + (f", FGM eps {config.adversarial_eps}" if config.adversarial_eps else "")
        + (f", top {config.reinit_layers} layer(s) re-initialised" if config.reinit_layers else "")
        + (", label offsets chosen on validation" if config.label_offsets else "")
    )

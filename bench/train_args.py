"""Fine-tuning flags shared by the benches that train a classifier (support, sentiment)."""

from __future__ import annotations

import argparse
from typing import Any

from mlcore.serving.device import TRAIN_PRECISIONS, training_precision


def train_args_add(
    parser: argparse.ArgumentParser,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    neighbours: int = 0,
    layer_lr_decay: float = 1.0,
    adversarial_eps: float = 0.0,
) -> None:
    parser.add_argument("--epochs", type=int, default=epochs, help="fine-tuning epochs")
    parser.add_argument("--lr", type=float, default=lr, help="encoder learning rate")
    parser.add_argument("--batch-size", type=int, default=batch_size, help="training batch size")
    parser.add_argument("--head-lr-multiplier", type=float, default=1.0, help="head lr = lr x this")
    parser.add_argument("--head-init", choices=("random", "centroids"), default="random")
    parser.add_argument(
        "--unfreeze-embeddings", action="store_true", help="also train the word embeddings"
    )
    parser.add_argument(
        "--neighbours", type=int, default=neighbours, help="k of the neighbour vote (0: head only)"
    )
    parser.add_argument(
        "--ensemble", type=int, default=1, help="members trained with seeds seed, seed+1, ..."
    )
    parser.add_argument(
        "--layer-lr-decay",
        type=float,
        default=layer_lr_decay,
        help="lr factor per layer below the top",
    )
    parser.add_argument(
        "--adversarial-eps",
        type=float,
        default=adversarial_eps,
        help="FGM step on the embeddings (0: off)",
    )
    parser.add_argument("--patience", type=int, default=2, help="early-stopping patience")
    parser.add_argument(
        "--precision",
        choices=TRAIN_PRECISIONS,
        default="auto",
        help="auto: bf16 mixed precision where the device has native bf16",
    )
    parser.add_argument("--seed", type=int, default=None, help="training seed")


def train_config_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """TrainConfig fields the flags set (seed only where given)."""
    kwargs: dict[str, Any] = {
        "epochs": args.epochs,
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "head_lr_multiplier": args.head_lr_multiplier,
        "head_init": args.head_init,
        "freeze_word_embeddings": not args.unfreeze_embeddings,
        "patience": args.patience,
        "neighbours_k": args.neighbours,
        "ensemble": args.ensemble,
        "layer_lr_decay": args.layer_lr_decay,
        "adversarial_eps": args.adversarial_eps,
        "precision": args.precision,
    }
    if args.seed is not None:
        kwargs["seed"] = args.seed
    return kwargs


def train_config_describe(config: Any) -> str:
    return (
        (f"an ensemble of {config.ensemble} members, " if config.ensemble > 1 else "")
        + f"{config.epochs} epochs, lr {config.learning_rate} (head x{config.head_lr_multiplier}, "
        f"{config.head_init} init), max_length {config.max_length}, batch {config.batch_size}, "
        f"{config.pooling} pooling, word embeddings "
        f"{'frozen' if config.freeze_word_embeddings else 'trained'}, seed {config.seed}, "
        + (
            f"{config.neighbours_k}-nearest-neighbour vote mixed in"
            if config.neighbours_k
            else "no neighbour vote"
        )
        + (f", layer lr decay {config.layer_lr_decay}" if config.layer_lr_decay < 1 else "")
        + (f", FGM eps {config.adversarial_eps}" if config.adversarial_eps else "")
        + f", trained in {training_precision('cpu', config.precision)}"
    )

"""Inference engine: the serving forms of the embedder and the sentiment classifier, each beside
the plain library in the same run.

    python -m bench engine                         # embedder + MiniLM sentiment (+ GPU if any)
    python -m bench engine --only embedder
    python -m bench engine --model-dir /tmp/sent   # keep (or reuse) the trained sentiment model
    python -m bench engine --base-model mpnet --train-rows 800 --epochs 1   # mpnet, briefly
    python -m bench engine --only sentiment --base-model mpnet --train-rows 500 --epochs 1 \
        --test-rows 300 --rounds 1   # mpnet on a busy 2-core machine

embedder   plain `SentenceTransformer.encode` (fp32 torch, batch 64) against the project's
           Embedder in each form (bf16 where the CPU has native bf16) and in its default
           choice, on PhraseBank sentences; each form's mean cosine to the plain fp32 vectors.
sentiment  a classifier fine-tuned on our 85/15 PhraseBank split (bench/sentiment.py), its ONNX
           forms exported (static int8 calibrated on its validation texts) and every form's
           accuracy and speed measured on the same held-out rows; torch fp32 is the baseline.
gpu        with CUDA: the same, on the GPU (fp32 and fp16), naming the GPU.

Rounds alternate the contenders, and each keeps its best round, so a neighbour's load on the
shared machine hits them alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.sentiment import PHRASEBANK, phrasebank_split
from bench.train_args import train_args_add, train_config_describe, train_config_kwargs
from mlcore.base_models import BaseModelMissing, base_model_path, base_model_resolve
from mlcore.serving.choice import single_rate

SECTIONS = ("embedder", "sentiment")


def _best_rates(
    contenders: dict[str, Callable[[Sequence[str]], Any]], texts: Sequence[str], rounds: int
) -> dict[str, float]:
    for run in contenders.values():
        run(texts[:16])  # warm-up
    best = dict.fromkeys(contenders, 0.0)
    for _ in range(rounds):
        for name, run in contenders.items():
            started = time.perf_counter()
            run(texts)
            best[name] = max(best[name], len(texts) / (time.perf_counter() - started))
    return {name: round(rate, 1) for name, rate in best.items()}


def _phrasebank_texts(n: int) -> list[str]:
    train, _ = phrasebank_split()
    return [r["sentence"] for r in train[:n]]


def embedder_section(args: argparse.Namespace, results: dict[str, Any], notes: list[str]) -> None:
    # heavy: sentence-transformers and mlcore.embedder load torch
    from sentence_transformers import SentenceTransformer

    from mlcore.embedder import Embedder
    from mlcore.serving.device import cpu_bf16_native

    texts = _phrasebank_texts(args.embed_texts)
    device = "cuda" if args.gpu else "cpu"
    plain = SentenceTransformer(str(base_model_path()), device=device)

    def plain_encode(batch: Sequence[str]) -> Any:
        return plain.encode(list(batch), batch_size=64, normalize_embeddings=True)

    forms = ["fp16"] if args.gpu else ["fp32", "onnx-fp32", "onnx-int8"]
    if not args.gpu and cpu_bf16_native():  # measured only where the CPU has native bf16
        forms.append("bf16")
    embedders = {form: Embedder(device=device, form=form) for form in forms}
    default = Embedder(device=device)
    contenders: dict[str, Callable[[Sequence[str]], Any]] = {"plain": plain_encode}
    contenders.update({form: e.embed for form, e in embedders.items()})
    contenders["default"] = default.embed
    rates = _best_rates(contenders, texts, args.rounds)
    # One text a call, as a question is embedded (mlcore.serving.choice: the served choice
    # weighs this rate and the batch rate alike).
    alone = {
        name: single_rate(embed, texts, rounds=args.rounds) for name, embed in contenders.items()
    }
    reference = plain_encode(texts)
    prefix = "gpu_embedder" if args.gpu else "embedder"
    section: dict[str, Any] = {
        "texts": len(texts),
        "plain_sentence_transformers_per_s": rates["plain"],
        "plain_sentence_transformers_single_per_s": alone["plain"],
        "default_form": default.form,
        "default_bulk_form": default.bulk_form,
        "default_batch_size": default.batch_size,
    }
    for name, embedder in [*embedders.items(), ("default", default)]:
        cosine = np.sum(embedder.embed(texts) * reference, axis=1)
        section[name] = {
            "texts_per_s": rates[name],
            "x_plain": round(rates[name] / rates["plain"], 2),
            "single_per_s": alone[name],
            "single_x_plain": round(alone[name] / alone["plain"], 2) if alone["plain"] else None,
            "mean_cosine_to_fp32": round(float(cosine.mean()), 5),
            "min_cosine_to_fp32": round(float(cosine.min()), 5),
        }
    results[prefix] = section
    met = section["default"]["x_plain"] >= 2.5 and section["default"]["mean_cosine_to_fp32"] >= 0.99
    notes.append(
        f"{prefix}: default forms {default.bulk_form} for bulk calls, at "
        f"{section['default']['x_plain']}x plain sentence-transformers in batches, and "
        f"{default.form} for calls of a few texts, at {section['default']['single_x_plain']}x "
        f"plain one text at a time; mean cosine {section['default']['mean_cosine_to_fp32']} "
        f"(target >= 2.5x, >= 0.99: {'met' if met else 'MISSED'})"
    )


def _sentiment_model(args: argparse.Namespace, workdir: Path) -> tuple[Path, list[str], str]:
    """The fine-tuned fp32 classifier (trained now, or reused from --model-dir), its
    validation texts (for static calibration) and how it was trained."""
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import TrainConfig, fit, validation_split

    train, _ = phrasebank_split()
    if args.train_rows:
        train = train[: args.train_rows]
    config = TrainConfig(
        max_length=args.max_length, val_fraction=0.1, **{"seed": 42, **train_config_kwargs(args)}
    )
    texts, labels = [r["sentence"] for r in train], [r["label"] for r in train]
    fit_texts, fit_labels, val_texts, val_labels, _ = validation_split(texts, labels, config)
    target = Path(args.model_dir) if args.model_dir else workdir / "sentiment"
    described = f"{args.base_model}, {len(fit_texts)} rows, {train_config_describe(config)}"
    if (target / "serving.json").is_file():
        return target, val_texts, f"reused from {target} ({described})"
    started = time.monotonic()
    result = fit(
        fit_texts,
        fit_labels,
        val_texts=val_texts,
        val_labels=val_labels,
        config=config,
        base_model=base_model_resolve(args.base_model),
        device="cpu",
    )
    result.classifier.save(target)
    return target, val_texts, f"trained in {time.monotonic() - started:.0f} s ({described})"


def sentiment_section(
    args: argparse.Namespace, results: dict[str, Any], notes: list[str], workdir: Path
) -> None:
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier.forms import classifier_forms_export, classifier_forms_measure
    from mlcore.serving.choice import FP32, form_fastest

    if not PHRASEBANK.exists():
        notes.append(f"sentiment section skipped: {PHRASEBANK} is absent")
        return
    try:
        path, val_texts, how = _sentiment_model(args, workdir)
    except BaseModelMissing as exc:  # mpnet is optional (requirements-mpnet.txt)
        notes.append(f"sentiment_{args.base_model} section skipped: {exc}")
        return
    started = time.monotonic()
    classifier_forms_export(path, calibration_texts=val_texts)
    export_s = time.monotonic() - started
    _, test = phrasebank_split()
    if args.test_rows:
        test = test[: args.test_rows]
    texts, labels = [r["sentence"] for r in test], [r["label"] for r in test]
    measures = classifier_forms_measure(path, texts, labels, rounds=args.rounds)
    fp32 = next(m for m in measures if m.form == FP32 and m.device == "cpu")
    key = f"sentiment_{args.base_model}"
    section: dict[str, Any] = {"model": how, "test_rows": len(texts), "export_s": round(export_s)}
    for m in measures:
        section[f"{m.form}@{m.device}"] = {
            "accuracy": m.score,
            "change_points": round(100 * (m.score - fp32.score), 2),
            "texts_per_s": m.texts_per_s,
            "x_fp32": round(m.texts_per_s / fp32.texts_per_s, 2),
            "single_per_s": m.single_per_s,
        }
    section["cpu_choice"] = form_fastest(measures, device="cpu", baseline=fp32.score)
    results[key] = section
    speed, loss = (3.0, 0.5) if args.base_model == "minilm" else (2.5, 1.0)
    int8_forms = {
        k.removesuffix("@cpu"): v
        for k, v in section.items()
        if k.endswith("@cpu") and (k.startswith("onnx-int8") or k.startswith("int8@"))
    }
    if int8_forms:
        # The "int8" is whichever int8 form serves: torch's (fbgemm or oneDNN) or ONNX
        # Runtime's; each is in the results, and the note names the one compared.
        name, best = max(int8_forms.items(), key=lambda kv: kv[1]["x_fp32"])
        onnx = max(
            (v["x_fp32"] for k, v in int8_forms.items() if k.startswith("onnx")), default=0.0
        )
        met = best["x_fp32"] >= speed and best["change_points"] >= -loss
        notes.append(
            f"{key}: fastest int8 form {name} {best['x_fp32']}x torch fp32, "
            f"{best['change_points']} points (target >= {speed}x, <= {loss} point loss: "
            f"{'met' if met else 'MISSED'}; fastest ONNX int8 {onnx}x); {how}"
        )


def main(argv: list[str]) -> dict[str, Any]:
    # Only the sentiment defaults are read from the apps (no database is touched).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # setup: Django is configured just above
    import django

    django.setup()
    # setup: apps load after django.setup()
    from apps.sentiment.training import DEFAULT_PARAMS

    parser = argparse.ArgumentParser(prog="bench engine")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--embed-texts", type=int, default=1000)
    parser.add_argument("--base-model", default="minilm", help="minilm or mpnet")
    parser.add_argument("--model-dir", default="", help="keep (or reuse) the trained classifier")
    parser.add_argument("--train-rows", type=int, default=0, help="train on the first N rows")
    parser.add_argument("--test-rows", type=int, default=0, help="measure on the first N rows")
    parser.add_argument("--max-length", type=int, default=DEFAULT_PARAMS["max_length"])
    train_args_add(
        parser,
        epochs=DEFAULT_PARAMS["epochs"],
        lr=DEFAULT_PARAMS["learning_rate"],
        batch_size=DEFAULT_PARAMS["batch_size"],
        neighbours=DEFAULT_PARAMS["neighbours_k"],
        layer_lr_decay=DEFAULT_PARAMS["layer_lr_decay"],
        adversarial_eps=DEFAULT_PARAMS["adversarial_eps"],
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args(argv)
    # heavy: torch
    import torch

    from mlcore.serving.device import cuda_available, gpu_name

    torch.set_num_threads(args.threads)
    sections = set(args.only.split(","))
    results: dict[str, Any] = {"threads": args.threads}
    notes: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    try:
        args.gpu = False
        if cuda_available():  # every GPU figure below is this card's
            results["gpu"] = gpu_name()
        if "embedder" in sections:
            embedder_section(args, results, notes)
        if "sentiment" in sections:
            sentiment_section(args, results, notes, workdir)
        if cuda_available() and "embedder" in sections:
            args.gpu = True
            embedder_section(args, results, notes)
        elif not cuda_available():
            notes.append("no GPU on this machine: no GPU figures")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    notes.append(
        f"{args.threads} threads on a machine shared with other engineers' jobs (load varies "
        "during the run): compare figures within this run only"
    )
    return {
        "title": "Inference engine (serving forms)",
        "results": results,
        "notes": "; ".join(notes),
    }


if __name__ == "__main__":
    print(main(sys.argv[1:]))

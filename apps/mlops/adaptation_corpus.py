"""The text an adapted-base run adapts to: the run's corpus files and uploaded corpora, else the
task's texts (`tapt`), else the app's own texts, always less the texts the app's evaluation
judges on (held-out sentences and questions), which would flatter the adapted base at the gate.
Those are read when the corpus is assembled and again once the evaluation has run, so labelled
data that changed in between cannot slip a corpus text into the judged ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mlcore.adapt import corpus_read, texts_without

from .corpora import corpus_paths
from .kinds import TrainingContext


class CorpusSource(Protocol):
    """What an app's adapted base says about its texts (apps/mlops/adaptation.py AdaptedBase)."""

    @property
    def app(self) -> str: ...
    @property
    def texts(self) -> Callable[[], list[str]]: ...
    @property
    def task_texts(self) -> Callable[[], list[str]]: ...
    @property
    def judged_texts(self) -> Callable[[], list[str]]: ...


def _corpus_files(value: Any) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _source_texts(spec: CorpusSource, params: dict[str, Any], ctx: TrainingContext) -> list[str]:
    files = _corpus_files(params.get("corpus"))
    ids = [int(i) for i in params.get("corpora") or []]
    if ids:
        files = corpus_paths(app=spec.app, ids=ids) + files
        ctx.log(f"uploaded corpora: {', '.join(f'#{i}' for i in ids)}")
    if files:
        try:
            texts = corpus_read(files)
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the corpus: {exc}") from None
        ctx.log(f"corpus: {len(texts)} distinct texts from {', '.join(files)}")
        return texts
    if params.get("method") == "tapt":
        ctx.log("corpus: the task's own texts (task-adaptive pretraining)")
        return spec.task_texts()
    ctx.log(f"corpus: the {spec.app} app's own texts")
    return spec.texts()


def adaptation_corpus(
    spec: CorpusSource, params: dict[str, Any], ctx: TrainingContext
) -> tuple[list[str], list[str]]:
    """(the run's texts less those holding what the app's evaluation judges on (texts_without),
    the judged texts), said in the run's log."""
    texts = _source_texts(spec, params, ctx)
    judged = spec.judged_texts()
    kept = texts_without(texts, judged)
    if len(kept) < len(texts):
        ctx.log(
            f"{len(texts) - len(kept)} texts holding what the app's evaluation judges on are "
            "left out of the corpus"
        )
    return kept, judged


def corpus_judged_check(spec: CorpusSource, corpus: list[str], judged: list[str]) -> None:
    """ValueError when a text the evaluation judges on now, and did not when `corpus` was
    assembled, is in it: its labelled data changed during the run (a held-out split
    reshuffled), so the scores may be flattered."""
    before = set(judged)
    new = [text for text in spec.judged_texts() if text not in before]
    inside = len(corpus) - len(texts_without(corpus, new)) if new else 0
    if inside:
        raise ValueError(
            f"{inside} texts of the corpus adapted to hold what the app's evaluation judged on: "
            "its labelled data changed during the run; run it again"
        )

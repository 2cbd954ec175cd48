"""Transformer text classifier: fine-tuning from the MiniLM base, prediction, int8 serving form.

model         TextClassifier (load, save, predict), the neighbour memory, serving forms
quantization  the dynamic-int8 form (guarded), and the engine that serves it
forms         the serving forms saved beside the weights, and their measures
run           TrainConfig, ProgressEvent, TrainResult, the validation split
training      fit, phase by phase
steps         batches, optimiser groups, the loss, the FGM adversary
neighbours    centroid head start, the neighbour vote's weight, the final report
ensembles     several members served as one
"""

from .forms import int8_form_save
from .model import (
    FORMS_DIR,
    NEIGHBOURS_FILE,
    SERVING_FILE,
    NeighbourMemory,
    TextClassifier,
    form_file,
    serving_form_set,
)
from .neighbours import final_report_line
from .quantization import (
    LEGACY_QUANTIZED_FILE,
    QUANTIZED_FILE,
    int8_engine_select,
    quantize_dynamic,
)
from .run import (
    ProgressEvent,
    TrainConfig,
    TrainingCancelled,
    TrainResult,
    set_seed,
    stratified_split,
    validation_split,
)
from .steps import length_bucketed_batches
from .training import fit

__all__ = [
    "FORMS_DIR",
    "LEGACY_QUANTIZED_FILE",
    "NEIGHBOURS_FILE",
    "QUANTIZED_FILE",
    "SERVING_FILE",
    "NeighbourMemory",
    "ProgressEvent",
    "TextClassifier",
    "TrainConfig",
    "TrainResult",
    "TrainingCancelled",
    "final_report_line",
    "fit",
    "form_file",
    "int8_engine_select",
    "int8_form_save",
    "length_bucketed_batches",
    "quantize_dynamic",
    "serving_form_set",
    "set_seed",
    "stratified_split",
    "validation_split",
]

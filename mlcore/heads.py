"""Torch modules for classifiers (imported lazily: this module imports torch at load time)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

HEAD_FILE = "head.safetensors"
# Heads saved before safetensors; read only with torch's weights-only loader, which refuses
# anything but tensors (a full unpickle would run whatever code the file carries).
LEGACY_HEAD_FILE = "head.pt"


class MeanPoolClassifier(nn.Module):
    """Encoder + mean pooling over tokens + dropout + linear layer.

    all-MiniLM-L6-v2 was trained as a sentence encoder with mean pooling; its [CLS] pooler was
    never trained for that, so a head on the mean-pooled tokens starts from a far better place.
    """

    def __init__(self, encoder: Any, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(int(encoder.config.hidden_size), num_labels)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> SimpleNamespace:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        logits = self.classifier(self.dropout(pooled))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SimpleNamespace(loss=loss, logits=logits, pooled=pooled)

    def save_pretrained(self, path: str) -> None:
        from safetensors.torch import save_file

        self.encoder.save_pretrained(path)
        state = {k: v.contiguous() for k, v in self.classifier.state_dict().items()}
        save_file(state, f"{path}/{HEAD_FILE}")

    @classmethod
    def from_pretrained(cls, path: str, num_labels: int) -> MeanPoolClassifier:
        from safetensors.torch import load_file
        from transformers import AutoModel

        model = cls(AutoModel.from_pretrained(path, use_safetensors=True), num_labels)
        if Path(path, HEAD_FILE).exists():
            state = load_file(f"{path}/{HEAD_FILE}")
        else:
            state = torch.load(f"{path}/{LEGACY_HEAD_FILE}", weights_only=True)
        model.classifier.load_state_dict(state)
        return model


class MeanPoolEnsemble(nn.Module):
    """Several MeanPoolClassifiers fine-tuned with different seeds, served as one model.

    Logits are the mean of the members' log-probabilities; `pooled` is the concatenation of the
    members' unit sentence vectors scaled by 1/sqrt(n), so its cosine is the members' mean cosine.
    """

    def __init__(self, members: list[MeanPoolClassifier]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> SimpleNamespace:
        outs = [m(input_ids, attention_mask, token_type_ids) for m in self.members]
        logits = torch.stack([nn.functional.log_softmax(o.logits, dim=-1) for o in outs]).mean(0)
        scale = 1.0 / len(outs) ** 0.5
        pooled = torch.cat([nn.functional.normalize(o.pooled, dim=-1) * scale for o in outs], -1)
        return SimpleNamespace(loss=None, logits=logits, pooled=pooled)

    def save_pretrained(self, path: str) -> None:
        for i, member in enumerate(self.members):
            sub = Path(path) / f"member_{i}"
            sub.mkdir(parents=True, exist_ok=True)
            member.save_pretrained(str(sub))  # type: ignore[operator]

    @classmethod
    def from_pretrained(cls, path: str, num_labels: int, n_members: int) -> MeanPoolEnsemble:
        return cls(
            [
                MeanPoolClassifier.from_pretrained(f"{path}/member_{i}", num_labels)
                for i in range(n_members)
            ]
        )

"""Plain ML library shared by the apps: embeddings, vector indices, classifiers, registry.

Imports nothing from Django. Heavy libraries (torch, transformers, faiss) load lazily.
"""

from .types import Hit, Prediction

__all__ = ["Hit", "Prediction"]

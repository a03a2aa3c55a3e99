"""Tasks: backbone + head + loss + metrics, and generation."""

from zoo.tasks.causal_lm import CausalLM
from zoo.tasks.classifiers import SequenceClassifier
from zoo.tasks.classifiers import TokenClassifier
from zoo.tasks.losses import SparseCrossEntropy
from zoo.tasks.masked_lm import MaskedLM
from zoo.tasks.seq2seq_lm import Seq2SeqLM
from zoo.tasks.task import Task

__all__ = [
    "CausalLM",
    "MaskedLM",
    "SequenceClassifier",
    "Seq2SeqLM",
    "SparseCrossEntropy",
    "Task",
    "TokenClassifier",
]

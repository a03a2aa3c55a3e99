"""The Transformer building blocks shared by every zoo model."""

from zoo.blocks.attention import MultiHeadAttention
from zoo.blocks.dropout import Dropout
from zoo.blocks.embeddings import LearnedPositionEmbedding
from zoo.blocks.embeddings import SinusoidalPositionEncoding
from zoo.blocks.embeddings import TokenEmbedding
from zoo.blocks.feed_forward import FeedForward
from zoo.blocks.masks import causal_attention_mask
from zoo.blocks.masks import merge_masks
from zoo.blocks.masks import padding_attention_mask
from zoo.blocks.normalization import LayerNormalization
from zoo.blocks.transformer import DecoderBlock
from zoo.blocks.transformer import EncoderBlock

__all__ = [
    "DecoderBlock",
    "Dropout",
    "EncoderBlock",
    "FeedForward",
    "LayerNormalization",
    "LearnedPositionEmbedding",
    "MultiHeadAttention",
    "SinusoidalPositionEncoding",
    "TokenEmbedding",
    "causal_attention_mask",
    "merge_masks",
    "padding_attention_mask",
]

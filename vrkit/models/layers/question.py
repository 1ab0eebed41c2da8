"""Question encoder shared by the models: word embedding + one-layer bidirectional LSTM."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class QuestionEncoder(nn.Module):
    """Embedding (index 0 = padding) → BiLSTM → contextual words and a question vector.

    forward(question [B, L] long, question_len [B] long) returns
        words    [B, L, out_dim]  each word's BiLSTM output (2·hidden) projected to ``out_dim``
                                  (zero-padding positions are not meaningful; use ``mask``),
        question [B, 2·hidden]    concatenation of the final forward and backward hidden states,
        mask     [B, L] bool      True on real tokens (position < question_len).
    Sequences are packed by ``question_len`` so padding never enters the LSTM.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden: int = 128, out_dim: int = 128) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.word_proj = nn.Linear(2 * hidden, out_dim)
        self.hidden = hidden

    @property
    def question_dim(self) -> int:
        return 2 * self.hidden

    def forward(self, question: Tensor, question_len: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B, L = question.shape
        lengths = question_len.clamp(min=1, max=L)
        emb = self.embedding(question)  # (B, L, E)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=L)  # (B, L, 2h)
        words = self.word_proj(out)  # (B, L, out_dim)
        q = torch.cat([h_n[0], h_n[1]], dim=-1)  # (B, 2h)
        mask = torch.arange(L, device=question.device)[None, :] < lengths.to(question.device)[:, None]
        return words, q, mask

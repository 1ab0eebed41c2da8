"""Question encoder shared by the models: word embedding + one-layer bidirectional LSTM."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def reverse_within(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence of ``x [B, L, ...]`` (token ids or features) within its length; padding positions
    stay in place (lengths above L count as L)."""
    L = x.shape[1]
    ar = torch.arange(L, device=x.device)[None, :]
    lens = lengths.to(x.device).clamp(max=L)[:, None]
    idx = torch.where(ar < lens, lens - 1 - ar, ar)  # (B, L)
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))


class QuestionEncoder(nn.Module):
    """Embedding (index 0 = padding) → BiLSTM → contextual words and a question vector.

    forward(question [B, L] long, question_len [B] long) returns
        words    [B, L, out_dim]  each word's BiLSTM output (2·hidden) projected to ``out_dim``
                                  (zero-padding positions are not meaningful; use ``mask``),
        question [B, 2·hidden]    concatenation of the final forward and backward hidden states,
        mask     [B, L] bool      True on real tokens (position < question_len).
    ``padding="masked"`` (default): each direction sees exactly the tokens before ``question_len`` — the
    result of packing the padded sequences — but is computed as two unpacked runs (the backward one on each
    question reversed within its length), which lets CPU use the fused oneDNN LSTM kernel: packed LSTMs run
    step by step there.
    ``padding="full"`` (SAMNet's reference implementation): every question is padded with id 0 to at least
    ``pad_to`` tokens and the BiLSTM reads all of them, padding included; the question vector is the final
    state of each direction after the whole padded sequence, and ``mask`` is all True (attention over the
    words covers the padding too). ``question_len`` is then ignored.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden: int = 128, out_dim: int = 128,
                 padding: str = "masked", pad_to: int = 0) -> None:
        super().__init__()
        if padding not in ("masked", "full"):
            raise ValueError(f"question padding must be 'masked' or 'full', not {padding!r}")
        self.padding, self.pad_to = padding, pad_to
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.word_proj = nn.Linear(2 * hidden, out_dim)
        self.hidden = hidden

    @property
    def question_dim(self) -> int:
        return 2 * self.hidden

    def forward(self, question: Tensor, question_len: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self.padding == "full":
            return self._forward_full(question)
        B, L = question.shape
        lengths = question_len.clamp(min=1, max=L)
        lengths = lengths.to(question.device)
        mask = torch.arange(L, device=question.device)[None, :] < lengths[:, None]  # (B, L)
        emb = self.embedding(question)  # (B, L, E)
        lstm = self.lstm
        w = [getattr(lstm, f"{n}_l0{sfx}") for sfx in ("", "_reverse")
             for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]  # forward: w[:4], backward: w[4:]
        # torch.lstm is the functional kernel behind nn.LSTM (oneDNN on CPU, cuDNN on GPU)
        h0 = emb.new_zeros(1, B, self.hidden)
        fwd = torch.lstm(emb, (h0, h0), w[:4], True, 1, 0.0, self.training, False, True)[0]  # (B, L, h)
        bwd = torch.lstm(reverse_within(emb, lengths), (h0, h0), w[4:], True, 1, 0.0, self.training, False,
                         True)[0]
        last = (lengths - 1).view(B, 1, 1).expand(B, 1, self.hidden)
        q = torch.cat([fwd.gather(1, last), bwd.gather(1, last)], dim=-1).squeeze(1)  # (B, 2h): final states
        out = torch.cat([fwd, reverse_within(bwd, lengths)], dim=-1) * mask.unsqueeze(-1)  # (B, L, 2h)
        words = self.word_proj(out)  # (B, L, out_dim)
        return words, q, mask

    def _forward_full(self, question: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B, L = question.shape
        if self.pad_to > L:
            question = torch.nn.functional.pad(question, (0, self.pad_to - L))
        out, (h, _) = self.lstm(self.embedding(question))  # (B, L', 2h); h (2, B, h): forward, backward
        words = self.word_proj(out)
        mask = torch.ones(words.shape[:2], dtype=torch.bool, device=words.device)
        return words, h.transpose(0, 1).reshape(B, -1), mask

"""Encoding–forecasting ConvLSTM (Shi et al. 2015) on GRACE alone (Yu et al. 2021)."""

from __future__ import annotations

import torch
from torch import nn

from gracefuse.models.registry import register


class ConvLSTMCell(nn.Module):
    """One ConvLSTM cell: the four LSTM gates come from a 3×3 conv over [input, hidden]."""

    def __init__(self, c_in: int, c_hidden: int, kernel: int = 3) -> None:
        super().__init__()
        self.c_hidden = c_hidden
        self.gates = nn.Conv2d(c_in + c_hidden, 4 * c_hidden, kernel, padding=kernel // 2)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, o, g = torch.chunk(self.gates(torch.cat([x, h], 1)), 4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


def encode_sequence(
    cells: nn.ModuleList, x: torch.Tensor
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Run stacked ConvLSTM ``cells`` over ``x`` ``(B, T, C, H, W)`` from zero states; the
    ``(h, c)`` of every layer after the last step."""
    b, t, _, hgt, wid = x.shape
    states = [
        (x.new_zeros(b, cell.c_hidden, hgt, wid), x.new_zeros(b, cell.c_hidden, hgt, wid))
        for cell in cells
    ]
    for step in range(t):
        inp = x[:, step]
        for k, cell in enumerate(cells):
            states[k] = cell(inp, states[k])
            inp = states[k][0]
    return states


class ConvLSTMForecaster(nn.Module):
    """Encoder stack reads a sequence; a forecaster stack, started from the encoder states,
    emits the next frame.

    Input ``(B, T, C, H, W)`` (C: value and an availability flag); output ``(B, 1, H, W)``.
    For hindcasting, feed the sequence reversed in time.
    """

    def __init__(
        self, in_channels: int = 2, hidden: tuple[int, ...] = (32, 32), out_channels: int = 1
    ) -> None:
        super().__init__()
        chans = [in_channels, *hidden]
        self.encoder = nn.ModuleList(
            ConvLSTMCell(a, b) for a, b in zip(chans, hidden, strict=False)
        )
        self.forecaster = nn.ModuleList(
            ConvLSTMCell(hidden[-1] if k == 0 else hidden[k - 1], h) for k, h in enumerate(hidden)
        )
        self.head = nn.Conv2d(sum(hidden), out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = encode_sequence(self.encoder, x)
        inp = states[-1][0]
        outs = []
        for k, cell in enumerate(self.forecaster):
            h, _ = cell(inp, states[k])
            outs.append(h)
            inp = h
        return torch.tanh(self.head(torch.cat(outs, 1)))


@register(
    "convlstm", inputs="sequence", methods=("reconstruction",), output="tanh",
    source="Yu et al. 2021",
)  # fmt: skip
def _convlstm(n_predictors, months, *, base_filters, out_channels, **_) -> ConvLSTMForecaster:
    """GRACE-only sequences: value and availability flag per month (``n_predictors`` = 2)."""
    width = base_filters or 32
    return ConvLSTMForecaster(n_predictors, (width, width), out_channels)

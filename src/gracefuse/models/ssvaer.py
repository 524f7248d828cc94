"""Semi-supervised variational autoencoder regression (SSVAER; Liang et al. 2025).

A variational autoencoder over the covariates whose latent mean also regresses GWSA: the
reconstruction and KL terms train on every sample (the unlabelled fine cells too), the
regression term only where a label exists (the coarse cells). The fine cells thereby shape
the latent space that the coarse labels are regressed in.
"""

from __future__ import annotations

import torch
from torch import nn

from gracefuse.models.registry import register


def _mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.SiLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class SSVAER(nn.Module):
    """``{"x": (B, P)}`` → ``{"y_hat": (B,), "x_hat": (B, P), "mu", "logvar": (B, latent)}``.

    The regression reads the latent mean (its sample while training), so a prediction is
    deterministic in evaluation.

    Examples
    --------
    >>> m = SSVAER(5, latent=3, hidden=(8,)).eval()
    >>> out = m({"x": torch.zeros(4, 5)})
    >>> out["y_hat"].shape, out["x_hat"].shape, out["mu"].shape
    (torch.Size([4]), torch.Size([4, 5]), torch.Size([4, 3]))
    """

    def __init__(self, n_predictors: int, latent: int = 8, hidden: tuple[int, ...] = (128, 64),
                 dropout: float = 0.1) -> None:  # fmt: skip
        super().__init__()
        self.encoder = _mlp([n_predictors, *hidden], dropout)
        self.mu = nn.Linear(hidden[-1], latent)
        self.logvar = nn.Linear(hidden[-1], latent)
        self.decoder = nn.Sequential(_mlp([latent, *hidden[::-1]], dropout),
                                     nn.Linear(hidden[0], n_predictors))  # fmt: skip
        self.regressor = nn.Sequential(_mlp([latent, hidden[-1]], dropout),
                                       nn.Linear(hidden[-1], 1))  # fmt: skip

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        h = self.encoder(batch["x"])
        mu, logvar = self.mu(h), self.logvar(h).clamp(-10, 10)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return {"y_hat": self.regressor(z).squeeze(-1), "x_hat": self.decoder(z), "mu": mu,
                "logvar": logvar}  # fmt: skip


register("ssvaer", inputs="points", methods=("downscaling",), source="Liang et al. 2025")(
    lambda n_predictors, months, *, dropout=0.1, **_: SSVAER(n_predictors, dropout=dropout)
)

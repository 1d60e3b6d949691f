"""Zero-cost proxies: a score from one batch and no training, higher = expected to train better. Used as the
lowest fidelity (e.g. the first rung of successive halving), never as an accuracy value.

- ``synflow``: Tanaka et al. 2020 / Abdelfattah et al. 2021: sum |theta * dR/dtheta| with R the output sum of
  the network with |weights| on an all-ones input (data independent).
- ``grad_norm``: Abdelfattah et al. 2021: norm of the loss gradient over all parameters on one batch.
- ``jacob_cov``: Mellor et al. 2021: -sum(log(eig + k) + 1/(eig + k)) of the correlation of input Jacobians.
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
from torch import Tensor, nn

from imcnas.errors import UnknownNameError


def synflow(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """SynFlow score (log10 of the sum, as the raw sum spans many orders of magnitude)."""
    net = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for p in net.state_dict().values():
            if p.is_floating_point():
                p.abs_()
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device)
    net.zero_grad()
    net(ones).sum().backward()
    total = sum(float((p * p.grad).abs().sum()) for p in net.parameters() if p.grad is not None)
    return math.log10(total) if total > 0 else float("-inf")


def grad_norm(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Norm of the cross-entropy gradient over every parameter on one batch."""
    net = copy.deepcopy(model).train()
    net.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    sq = sum(float(p.grad.pow(2).sum()) for p in net.parameters() if p.grad is not None)
    return math.sqrt(sq)


def jacob_cov(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Jacobian-covariance score on one batch (needs at least two samples)."""
    net = copy.deepcopy(model).train()
    xx = x.clone().requires_grad_(True)
    out = net(xx)
    out.backward(torch.ones_like(out))
    jac = xx.grad.reshape(x.shape[0], -1)
    corr = torch.corrcoef(jac)
    corr = torch.nan_to_num(corr, nan=0.0)
    eig = torch.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-torch.sum(torch.log(eig.clamp_min(0) + k) + 1.0 / (eig.clamp_min(0) + k)))


PROXIES: dict[str, Callable[[nn.Module, Tensor, Tensor], float]] = {
    "synflow": synflow, "grad_norm": grad_norm, "jacob_cov": jacob_cov}


def proxy_score(name: str, model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Score ``model`` with the named proxy on one batch ``(x, y)``."""
    fn = PROXIES.get(name)
    if fn is None:
        raise UnknownNameError("zero-cost proxy", name, list(PROXIES))
    torch.manual_seed(0)
    return fn(model, x, y)

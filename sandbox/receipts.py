"""Automatic receipts after a send: sent, delivered, read, in order unless told otherwise."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

from sandbox.config import SandboxConfig
from sandbox.state import Message, Sandbox

LADDER = ("sent", "delivered", "read")
Emit = Callable[[Message, str], None]


def auto_plan(config: SandboxConfig, rng: random.Random) -> list[tuple[float, str]]:
    """Return (delay, status) pairs for one message from the receipt settings."""
    statuses = list(LADDER)
    if config.receipt_order == "reverse":
        statuses.reverse()
    elif config.receipt_order == "shuffle":
        rng.shuffle(statuses)
    plan = list(zip(config.receipt_delays, statuses, strict=True))
    if config.receipt_duplicate:
        plan = [step for step in plan for _ in range(2)]
    return plan


def schedule_auto(sb: Sandbox, message: Message, emit: Emit) -> None:
    """Schedule the automatic receipts of a sent message on the sandbox clock."""
    if not sb.config.auto_receipts:
        return
    for delay, status in auto_plan(sb.config, sb.rng):
        sb.clock.call_later(delay, partial(emit, message, status))


def schedule_manual(
    sb: Sandbox, message: Message, statuses: list[str], interval: float, emit: Emit
) -> None:
    """Emit receipts exactly as listed (any order, repeats allowed), interval seconds apart."""
    for index, status in enumerate(statuses):
        if interval <= 0:
            emit(message, status)
        else:
            sb.clock.call_later(interval * (index + 1), partial(emit, message, status))

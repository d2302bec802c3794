"""Sandbox state: instances, messages, seeded ids, and the object that ties the parts together."""

from __future__ import annotations

import copy
import dataclasses
import random
import string
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.clock import Cancellable, Clock
from sandbox.config import BOOT_ONLY, SandboxConfig

if TYPE_CHECKING:
    from sandbox.evolution_sim import EvolutionSim
    from sandbox.faults import Faults
    from sandbox.greenapi_sim import GreenApiSim
    from sandbox.webhooks import Dispatcher

EVOLUTION = "evolution"
GREENAPI = "greenapi"
PROVIDERS = (EVOLUTION, GREENAPI)
FIRST_GREENAPI_ID = 1101000001


class Ids:
    """Provider-shaped identifiers drawn from the seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def hex(self, length: int) -> str:
        """Return uppercase hex digits."""
        return "".join(self.rng.choice("0123456789ABCDEF") for _ in range(length))

    def uuid(self) -> str:
        """Return a lowercase UUID4 string."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def instance_token(self) -> str:
        """Return an Evolution instance token (uppercase UUID)."""
        return self.uuid().upper()

    def greenapi_token(self) -> str:
        """Return a GreenAPI apiTokenInstance (50 lowercase hex digits)."""
        return self.hex(50).lower()

    def outbound_id(self) -> str:
        """Return a Baileys id for a message sent by this device, e.g. 3EB0C767D097B7C7C030."""
        return "3EB0" + self.hex(16)

    def inbound_id(self) -> str:
        """Return an id for a message sent from a phone (32 hex digits)."""
        return self.hex(32)

    def cuid(self) -> str:
        """Return a cuid-like database id, as Evolution's Prisma rows use."""
        return "cm" + "".join(
            self.rng.choice(string.ascii_lowercase + string.digits) for _ in range(23)
        )

    def phone(self) -> str:
        """Return a Brazilian-looking mobile number for simulated scans."""
        return "55119" + "".join(self.rng.choice(string.digits) for _ in range(8))


@dataclass
class QrState:
    """The current QR (and pairing code) of an instance waiting for a scan."""

    code: str | None = None
    data_url: str | None = None
    pairing_code: str | None = None
    count: int = 0
    number: str | None = None
    issued_at: float = 0.0


@dataclass
class EvoWebhook:
    """An Evolution per-instance webhook row."""

    id: str
    url: str
    headers: dict[str, str]
    enabled: bool
    events: list[str]
    by_events: bool
    base64: bool
    created_at: float
    updated_at: float


@dataclass
class EvoInstance:
    """An Evolution API (Baileys) instance."""

    name: str
    id: str
    token: str
    integration: str
    settings: dict[str, Any]
    created_at: float
    updated_at: float
    state: str = "close"
    qr: QrState = field(default_factory=QrState)
    webhook: EvoWebhook | None = None
    owner_jid: str | None = None
    profile_name: str | None = None
    profile_pic_url: str | None = None
    number: str | None = None
    session: bool = False
    disconnection_code: int | None = None
    disconnection_object: str | None = None
    disconnection_at: float | None = None
    timer: Cancellable | None = None

    def cancel_timer(self) -> None:
        """Stop the pending lifecycle timer (QR refresh or reconnect)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


@dataclass
class GreenInstance:
    """A GreenAPI instance (created in the console, here through the control API)."""

    id: int
    token: str
    created_at: float
    settings: dict[str, Any]
    state: str = "notAuthorized"
    wid: str | None = None
    profile_name: str | None = None
    qr: QrState = field(default_factory=QrState)
    code_until: float = 0.0
    queued: list[str] = field(default_factory=list)
    timer: Cancellable | None = None

    def cancel_timer(self) -> None:
        """Stop the pending lifecycle timer (reboot or reconnect)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


@dataclass
class Message:
    """A message the sandbox sent or received, kept for receipts and inspection."""

    id: str
    provider: str
    instance: str
    direction: str
    chat: str
    number: str
    kind: str
    text: str | None
    created_at: float
    db_id: str
    exists: bool = True
    payload: dict[str, Any] = field(default_factory=dict)
    receipts: list[str] = field(default_factory=list)
    # When it left the provider (GreenAPI holds sends while not authorized), and its last receipt.
    sent_at: float | None = None
    last_action_at: float | None = None
    # Kept in Evolution's database, so /chat/findMessages finds it.
    saved: bool = True

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON view for the control API."""
        return {
            "id": self.id,
            "provider": self.provider,
            "instance": self.instance,
            "direction": self.direction,
            "chat": self.chat,
            "number": self.number,
            "kind": self.kind,
            "text": self.text,
            "createdAt": self.created_at,
            "exists": self.exists,
            "receipts": list(self.receipts),
        }


@dataclass
class Store:
    """All instances and messages, indexed the way the providers look them up."""

    evolution: dict[str, EvoInstance] = field(default_factory=dict)
    greenapi: dict[int, GreenInstance] = field(default_factory=dict)
    # Deleted GreenAPI instances and when: the Partner API keeps listing them with deleted: true.
    greenapi_deleted: dict[int, tuple[GreenInstance, float]] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    not_on_whatsapp: set[str] = field(default_factory=set)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    next_greenapi_id: int = FIRST_GREENAPI_ID

    def clear(self) -> None:
        """Forget everything and cancel lifecycle timers."""
        instances: list[EvoInstance | GreenInstance] = [
            *self.evolution.values(),
            *self.greenapi.values(),
        ]
        for inst in instances:
            inst.cancel_timer()
        self.evolution.clear()
        self.greenapi.clear()
        self.greenapi_deleted.clear()
        self.messages.clear()
        self.not_on_whatsapp.clear()
        self.media.clear()
        self.next_greenapi_id = FIRST_GREENAPI_ID


class Sandbox:
    """The running sandbox: settings, clock, RNG, store, faults, webhooks and both simulators."""

    evolution: EvolutionSim
    greenapi: GreenApiSim
    webhooks: Dispatcher
    faults: Faults

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = Clock(config.clock, config.clock_start)
        self.rng = random.Random(config.seed)  # noqa: S311 (seeded for repeatable runs)
        self.ids = Ids(self.rng)
        self.store = Store()
        self.boot_config = copy.deepcopy(config)

    def add_preconfigured(self) -> None:
        """Create the GreenAPI instances given on the command line."""
        for id_instance, token in self.config.greenapi_instances:
            if id_instance not in self.store.greenapi:
                self.greenapi.create(id_instance, token, None)

    def reset(self) -> None:
        """Forget instances, messages, faults and the webhook log; restore the boot settings."""
        self.store.clear()
        self.faults.reset()
        self.webhooks.clear()
        for f in dataclasses.fields(self.config):
            if f.name not in BOOT_ONLY and f.name != "server_url":
                setattr(self.config, f.name, copy.deepcopy(getattr(self.boot_config, f.name)))
        self.add_preconfigured()

    def is_on_whatsapp(self, number: str) -> bool:
        """Tell whether a phone number has WhatsApp (all do, except configured ones)."""
        digits = "".join(ch for ch in number if ch.isdigit())
        blocked = self.store.not_on_whatsapp | set(self.config.not_on_whatsapp)
        return 8 <= len(digits) <= 15 and digits not in blocked


SANDBOX_KEY = web.AppKey("sandbox", Sandbox)

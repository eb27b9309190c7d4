"""Fault injection: the ways real WeCom misbehaves, each with a probability, from a seeded RNG.

One uniform draw per API request picks at most one fault, so a seed replays the same sequence.
Example: `FaultConfig.parse("server_error=0.1,timeout=0.05,seed=7")`.
"""

from __future__ import annotations

import random
import threading
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.errors import ConfigError


class Fault(StrEnum):
    SERVER_ERROR = "server_error"  # HTTP 502 from the gateway, nothing delivered
    TIMEOUT = "timeout"  # no answer within the client's timeout, nothing delivered
    TOKEN_EXPIRY = "token_expiry"  # the token is revoked early: 42001 now and on every later use
    RATE_LIMIT = "rate_limit"  # a burst of 45009 answers
    UNTRUSTED_IP = "untrusted_ip"  # 60020, the server's IP is not in the app's trusted IPs


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server_error: float = Field(0.0, ge=0, le=1)
    timeout: float = Field(0.0, ge=0, le=1)
    token_expiry: float = Field(0.0, ge=0, le=1)
    rate_limit: float = Field(0.0, ge=0, le=1)
    untrusted_ip: float = Field(0.0, ge=0, le=1)
    #: How long a timeout fault stalls before answering 504; set it above the client's timeout.
    timeout_seconds: float = Field(8.0, ge=0)
    #: A rate-limit fault answers 45009 to this many consecutive sends.
    burst_length: int = Field(3, ge=1)
    seed: int | None = None

    @model_validator(mode="after")
    def _total_at_most_one(self) -> FaultConfig:
        if sum(self.probabilities().values()) > 1.0 + 1e-9:
            raise ValueError("fault probabilities add up to more than 1")
        return self

    def probabilities(self) -> dict[Fault, float]:
        return {fault: getattr(self, fault.value) for fault in Fault}

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """Read `name=value,...` as typed on the command line; errors name the bad item."""
        values: dict[str, str] = {}
        problems: list[tuple[str, str]] = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, sep, value = item.partition("=")
            if not sep:
                problems.append((f"faults.{item}", "expected name=value"))
            else:
                values[name.strip()] = value.strip()
        try:
            config = cls.model_validate(values)
        except ValidationError as exc:
            problems += [
                ("faults." + ".".join(str(p) for p in e["loc"]) if e["loc"] else "faults", e["msg"])
                for e in exc.errors()
            ]
        if problems:
            raise ConfigError(problems, source="--faults")
        return config


class FaultInjector:
    """Draws faults for requests; thread-safe, reproducible for a given seed and request order."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._burst_left = 0
            self.injected: list[Fault] = []

    def draw(self, *, send: bool, uses_token: bool) -> Fault | None:
        """The fault for one request; faults that cannot apply to it (45009 on gettoken) draw nothing."""
        with self._lock:
            if send and self._burst_left > 0:
                self._burst_left -= 1
                self.injected.append(Fault.RATE_LIMIT)
                return Fault.RATE_LIMIT
            roll = self._rng.random()
            edge = 0.0
            for fault, probability in self.config.probabilities().items():
                edge += probability
                if roll < edge:
                    if (fault is Fault.RATE_LIMIT and not send) or (
                        fault is Fault.TOKEN_EXPIRY and not uses_token
                    ):
                        return None
                    if fault is Fault.RATE_LIMIT:
                        self._burst_left = self.config.burst_length - 1
                    self.injected.append(fault)
                    return fault
            return None

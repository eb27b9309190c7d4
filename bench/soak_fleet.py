"""The soak's moving parts: `groupbot run` replica processes and the paced WeCom traffic over them."""

from __future__ import annotations

import json
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from bot.simulator.directory import GROUP_MEMBERS
from bot.simulator.serve import free_port
from bot.simulator.traffic import CallbackPoster
from rules.model import GroupMessage

if TYPE_CHECKING:
    from bench.soak import SoakParams

#: Managers are exempt from most rules (not sensitive); the traffic comes from their reps.
MANAGERS = ("lisi", "zhaolei")


def message_text(n: int, violation_share: float, rng_value: float) -> str:
    """What reps write; a share carries a customer's mobile (alert) or is an incomplete report (warning)."""
    if rng_value < violation_share / 2:
        return f"刚和客户通完电话，她手机 139{n % 10**8:08d}，周五前把报价发过去"
    if rng_value < violation_share:
        return f"【跟进】客户姓名：王总；公司名称：华信科技{n % 97}号分公司；需求描述：采购 {n % 50 + 10} 台终端"
    return ("今天上午拜访了两家客户，下午整理报价单", "华信那边说下周一给答复，我周一上午再跟一下",
            "样品已经寄出，顺丰单号发群里了", "明天上午十点和财务对一下合同条款")[n % 4]


class Replica:
    """One `groupbot run` process on a fixed port; kill -9 and start again on the same port."""

    def __init__(self, index: int, env: dict[str, str], workdir: Path) -> None:
        self.index, self.env, self.workdir = index, env, workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        exe = Path(sys.executable).with_name("groupbot")
        log = (self.workdir / f"replica-{self.index}.log").open("ab")
        self.proc = subprocess.Popen(
            [str(exe), "run", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "WARNING"],
            env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        self.starts += 1

    def ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class Traffic:
    """Paced bridge batches over the replicas, from `workers` threads; keeps the acknowledged msgids."""

    def __init__(self, params: SoakParams, replicas: list[Replica], token: str) -> None:
        self.params, self.replicas, self.token = params, replicas, token
        self.acknowledged: set[str] = set()
        self.sent = self.unacknowledged = self.duplicates = 0
        self.lock = threading.Lock()
        self.jobs: queue.Queue = queue.Queue(maxsize=params.workers * 2)
        self.elapsed = 0.0

    def batches(self):
        rng = random.Random(self.params.seed)
        chats = {chat: [m for m in members if m not in MANAGERS] for chat, members in GROUP_MEMBERS.items()}
        names = list(chats)
        run = uuid.uuid4().hex[:8]
        n = 0
        while True:
            batch = []
            for _ in range(self.params.batch):
                chat = names[n % len(names)]
                sent_at = datetime.now(UTC) - self.params.sent_at_lag
                text = message_text(n, self.params.violation_share, rng.random())
                batch.append(GroupMessage(msgid=f"soak-{run}-{n}", chat_id=chat, sender=rng.choice(chats[chat]),
                                          sent_at=sent_at, text=text, source="bridge").to_payload())
                n += 1
            yield batch

    def post(self, poster: CallbackPoster, batch: list[dict]) -> bool:
        delivery = poster.post_bridge(batch, self.token)
        if not delivery.ok:
            return False
        refused = {e["index"] for e in json.loads(delivery.body).get("errors", [])}
        with self.lock:
            self.acknowledged.update(m["msgid"] for i, m in enumerate(batch) if i not in refused)
        return True

    def worker(self) -> None:
        posters = [CallbackPoster(r.url, retry_pause=1.0) for r in self.replicas]
        try:
            while (job := self.jobs.get()) is not None:
                index, batch = job
                target = index % len(posters)
                ok = self.post(posters[target], batch)
                with self.lock:
                    self.sent += len(batch)
                    self.unacknowledged += 0 if ok else len(batch)
                if ok and (index * 7919 % 1000) / 1000 < self.params.duplicate_share:
                    self.post(posters[(target + 1) % len(posters)], batch)  # the same body again, elsewhere
                    with self.lock:
                        self.duplicates += len(batch)
        finally:
            for poster in posters:
                poster.close()

    def run(self, stop: threading.Event) -> None:
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.params.workers)]
        for t in threads:
            t.start()
        start = time.monotonic()
        per_batch = self.params.batch / self.params.rate
        for index, batch in enumerate(self.batches()):
            if stop.is_set() or time.monotonic() - start >= self.params.seconds:
                break
            time.sleep(max(0.0, start + index * per_batch - time.monotonic()))
            self.jobs.put((index, batch))
        for _ in threads:
            self.jobs.put(None)
        for t in threads:
            t.join(60)
        self.elapsed = time.monotonic() - start

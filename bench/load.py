"""Replay "one user stalls everyone": while alice keeps eight maximum-length grades in flight,
how long does bob wait for an answer?

Starts `python app.py` with two logins on a notes folder, waits for its first index, then
measures bob's /ask latency over HTTP twice in one run: idle, and while alice's eight
threads send 2,000-character answers to /grade back to back. Prints p50 / p95 of both,
their ratio, and what happened to alice's requests (graded, or refused at once because
she already had her share running).

    python bench/load.py                      # the shipped notes, a fresh index (~2 min first)
    python bench/load.py --data .tutor_data   # reuse an existing index of knowledge/
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "为什么需要位置编码？", "What is RMSNorm?", "KV cache 为什么能加速推理？", "MQA 和 GQA 有什么区别？",
    "LoRA 的原理是什么？", "What does ZeRO stage 2 shard?", "为什么 Attention 要除以根号 d_k？",
    "How does top-p sampling work?", "RLHF 的流程是什么？", "What is FlashAttention?",
]
# A maximum-length answer (the limit is 2,000 characters), the kind that took 15 s each before.
LONG_ANSWER = ("位置编码让模型区分词序：自注意力对输入的排列不变，没有位置编码就无法区分“我爱你”和“你爱我”。"
               "正弦位置编码用不同频率的正弦和余弦函数，波长从 2π 到 10000·2π，偶数维用 sin，奇数维用 cos。" * 30)[:2000]


def logged_in(url: str, user: str, password: str):
    """A light HTTP client (no gradio_client: on two cores the load generator's own CPU
    would otherwise compete with the server it measures): call(name, *args) -> result."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    opener.open(url + "login", data=urllib.parse.urlencode({"username": user, "password": password}).encode()).read()

    def call(name: str, *args):
        body = json.dumps({"data": list(args)}).encode()
        submitted = opener.open(urllib.request.Request(f"{url}gradio_api/call/{name}", data=body,
                                                       headers={"Content-Type": "application/json"}), timeout=300)
        event = json.loads(submitted.read())["event_id"]
        stream = opener.open(f"{url}gradio_api/call/{name}/{event}", timeout=300).read().decode()
        return json.loads(stream.rsplit("data: ", 1)[-1])[0] if "event: complete" in stream else {"error": stream}
    return call


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_app(knowledge: Path, data: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "TUTOR_KNOWLEDGE_DIR": str(knowledge), "TUTOR_DATA_DIR": str(data), "TUTOR_PORT": str(port),
           "TUTOR_AUTH": "alice:alice-pw,bob:bob-pw", "GRADIO_TEMP_DIR": str(data / "gradio-files")}
    env.pop("TUTOR_CHROMA_URL", None)
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=open(log, "wb"),
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 900
    while "ready:" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the app did not get ready:\n{log.read_text()}")
        time.sleep(1)
    return process, f"http://127.0.0.1:{port}/"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def ask_many(bob, rounds: int) -> list[float]:
    seconds = []
    for i in range(rounds):
        started = time.perf_counter()
        answer = bob("ask", QUESTIONS[i % len(QUESTIONS)])
        seconds.append(time.perf_counter() - started)
        assert "hits" in answer, answer
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge")
    parser.add_argument("--data", type=Path, help="TUTOR_DATA_DIR (default: a fresh temporary folder)")
    parser.add_argument("--rounds", type=int, default=40, help="bob's questions per phase")
    parser.add_argument("--threads", type=int, default=8, help="alice's concurrent grades")
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="tutor-load-"))
    log = data / "app.log" if args.data is None else Path(tempfile.mkdtemp()) / "app.log"
    print(f"starting the app on {args.knowledge} (data {data}) ...", flush=True)
    process, url = start_app(args.knowledge, data, log)
    try:
        bob = logged_in(url, "bob", "bob-pw")
        ask_many(bob, 3)  # warm-up
        idle = ask_many(bob, args.rounds)

        stop = threading.Event()
        outcomes = {"graded": 0, "refused": 0, "other": 0}
        grade_seconds: list[float] = []
        lock = threading.Lock()

        def alice_grades():
            alice = logged_in(url, "alice", "alice-pw")
            while not stop.is_set():
                started = time.perf_counter()
                result = alice("grade", "为什么需要位置编码？", LONG_ANSWER)
                with lock:
                    if "score" in result:
                        outcomes["graded"] += 1
                        grade_seconds.append(time.perf_counter() - started)
                    elif "requests running" in result.get("error", ""):
                        outcomes["refused"] += 1
                        time.sleep(0.05)  # a client that retries at once
                    else:
                        outcomes["other"] += 1

        threads = [threading.Thread(target=alice_grades, daemon=True) for _ in range(args.threads)]
        for thread in threads:
            thread.start()
        time.sleep(2)  # let the load build up
        loaded = ask_many(bob, args.rounds)
        stop.set()
        for thread in threads:
            thread.join(120)
    finally:
        process.terminate()
        process.wait(30)

    idle_p50, idle_p95 = statistics.median(idle), percentile(idle, 0.95)
    loaded_p50, loaded_p95 = statistics.median(loaded), percentile(loaded, 0.95)
    print(f"\nbob's /ask, {args.rounds} questions each (seconds):")
    print(f"  idle                          p50 {idle_p50:.3f}  p95 {idle_p95:.3f}")
    print(f"  alice: {args.threads} max-length grades  p50 {loaded_p50:.3f}  p95 {loaded_p95:.3f}  "
          f"(p95 {loaded_p95 / idle_p95:.1f}x idle)")
    print(f"alice's grades meanwhile: {outcomes['graded']} graded "
          f"(p50 {statistics.median(grade_seconds) if grade_seconds else float('nan'):.2f}s each), "
          f"{outcomes['refused']} refused at once (her share: 2 running), {outcomes['other']} other")
    verdict = "meets" if loaded_p95 <= 2.0 else "MISSES"
    print(f"target: bob's p95 under load <= 2 s: {verdict} ({loaded_p95:.2f} s)")
    return 0 if loaded_p95 <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())

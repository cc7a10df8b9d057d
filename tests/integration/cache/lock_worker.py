"""Worker process for the cross-process lock test: N threads with a cold cache each try to get a token.

Each thread does what the OBO client does on a miss (load, take the exchange lock, re-load, exchange only if
the partition is still empty) but without the client's in-process coalescing, so every thread contends on
the Redis lock. The "exchange" is counted with INCR in Redis and takes `delay` seconds, like a token endpoint.
Prints one JSON line: how many threads exchanged and how many found the token.
"""
from __future__ import annotations

import base64
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import redis

from function_app.token_cache.redis_store import RedisTokenStore


def main(url: str, keys_b64: str, partition: str, threads: int, delay: float) -> None:
    keys = [(kid, base64.b64decode(secret)) for kid, secret in (item.split(":", 1) for item in keys_b64.split(","))]
    store = RedisTokenStore(url, keys)
    counter = redis.Redis.from_url(url)
    go = threading.Event()

    def one_request() -> str:
        go.wait()
        if store.load(partition) is not None:
            return "cached"
        with store.exchange_lock(partition):
            if store.load(partition) is not None:
                return "after-wait"
            counter.incr("test:exchanges")
            time.sleep(delay)
            store.save(partition, json.dumps({"AccessToken": {"k": {"secret": "at-for-" + partition}}}), 3600)
            return "exchanged"

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(one_request) for _ in range(threads)]
        # Both processes release their threads together, when the test sets the start key.
        while not counter.exists("test:go"):
            time.sleep(0.005)
        go.set()
        outcomes = [future.result() for future in futures]
    print(json.dumps({kind: outcomes.count(kind) for kind in ("cached", "after-wait", "exchanged")}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))

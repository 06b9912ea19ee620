"""redis-py's everyday flows against a Meridian server: the port is the
first argument. Run by tests/tests/clients.rs; exits non-zero with the
failed check on stderr."""

import sys
import threading

import redis


def main(port: int) -> None:
    for protocol in (2, 3):
        r = redis.Redis(port=port, protocol=protocol, decode_responses=True)
        r.flushall()

        # Plain commands, pipelines and transactions.
        assert r.set("greeting", "hello", ex=60) is True
        assert r.get("greeting") == "hello"
        assert 0 < r.ttl("greeting") <= 60
        pipe = r.pipeline(transaction=True)
        pipe.incr("n").incrby("n", 4).hset("h", mapping={"a": "1", "b": "2"})
        assert pipe.execute() == [1, 5, 2]
        assert r.hgetall("h") == {"a": "1", "b": "2"}

        # Scan iterators.
        for i in range(50):
            r.sadd("s", f"m{i}")
        assert len(set(r.sscan_iter("s", count=7))) == 50
        assert "greeting" in set(r.scan_iter(match="g*"))

        # Blocking pops.
        def push_later() -> None:
            redis.Redis(port=port).rpush("queue", "job")

        t = threading.Timer(0.2, push_later)
        t.start()
        got = r.blpop(["queue"], timeout=5)
        assert got is not None and tuple(got) == ("queue", "job"), got
        t.join()

        # Lua: the Script object (EVALSHA, falling back to EVAL on NOSCRIPT).
        r.script_flush()
        add = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert add(keys=["counter"], args=[2]) == 2
        assert add(keys=["counter"], args=[3]) == 5

        # The Lock helper (SET NX PX + a Lua release that checks the token).
        lock = r.lock("resource", timeout=5, blocking_timeout=1)
        assert lock.acquire()
        other = r.lock("resource", timeout=5, blocking_timeout=0.1)
        assert not other.acquire(), "a held lock was granted twice"
        lock.release()
        assert other.acquire()
        other.release()

        # Pub/sub.
        p = r.pubsub()
        p.subscribe("news")
        assert p.get_message(timeout=2)["type"] == "subscribe"
        assert r.publish("news", "hi") == 1
        msg = p.get_message(timeout=2)
        assert msg and msg["data"] == "hi", msg
        p.close()
        r.close()
    print("redis-py flows: ok")


if __name__ == "__main__":
    main(int(sys.argv[1]))

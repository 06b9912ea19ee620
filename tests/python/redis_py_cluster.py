"""redis-py's RedisCluster against a Meridian region sharded over several
nodes: the port of any one node is the first argument. Run by
tests/tests/sharding.rs; exits non-zero with the failed check on stderr."""

import sys

from redis.cluster import RedisCluster


def main(port: int) -> None:
    rc = RedisCluster(host="127.0.0.1", port=port, decode_responses=True)
    nodes = rc.get_nodes()
    assert len(nodes) == 3, nodes
    for i in range(200):
        assert rc.set(f"page:{i}", f"v{i}") is True
    for i in range(100):
        rc.hset(f"session:{i}", mapping={"user": f"u{i}", "n": i})
    assert rc.get("page:17") == "v17"
    assert rc.hgetall("session:42") == {"user": "u42", "n": "42"}
    # Keys sharing a hash tag go together in one command.
    rc.mset({"{order:1}:id": "1", "{order:1}:sum": "9.5"})
    assert rc.mget("{order:1}:id", "{order:1}:sum") == ["1", "9.5"]
    # keyslot agrees with the server's.
    assert rc.keyslot("foo") == 12182
    assert rc.cluster_keyslot("foo") == 12182
    # Each key is where the slot map says.
    for key in ("page:3", "session:8", "{order:1}:id"):
        node = rc.get_node_from_key(key)
        direct = rc.get_redis_connection(node)
        assert direct.exists(key) == 1, (key, node)
    # A pipeline spreads its commands over the nodes.
    pipe = rc.pipeline()
    for i in range(200):
        pipe.get(f"page:{i}")
    values = pipe.execute()
    assert values == [f"v{i}" for i in range(200)], values[:5]
    rc.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))

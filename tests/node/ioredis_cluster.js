// ioredis's Cluster client against a Meridian region sharded over several
// nodes: the port of any one node is the first argument. Run by
// tests/tests/sharding.rs; exits non-zero with the failed check on stderr.
"use strict";

const assert = require("node:assert/strict");
const { Cluster } = require("ioredis");

async function main(port) {
  const c = new Cluster([{ host: "127.0.0.1", port }], {
    lazyConnect: true,
    redisOptions: { maxRetriesPerRequest: 2 },
  });
  await c.connect();
  try {
    assert.equal(c.nodes("master").length, 3);
    for (let i = 0; i < 150; i++) {
      assert.equal(await c.set(`item:${i}`, `v${i}`), "OK");
    }
    assert.equal(await c.get("item:77"), "v77");
    // Keys sharing a hash tag work together.
    assert.equal(await c.mset("{basket:9}:n", "2", "{basket:9}:sum", "7.5"), "OK");
    assert.deepEqual(await c.mget("{basket:9}:n", "{basket:9}:sum"), ["2", "7.5"]);
    await assert.rejects(c.mset("a{x}", "1", "b{y}", "2"), /CROSSSLOT|same slot/);
    // ioredis sends a pipeline to one node, so its keys share a hash tag.
    const p = c.pipeline();
    for (let i = 0; i < 50; i++) p.set(`{feed}:${i}`, `f${i}`);
    for (let i = 0; i < 50; i++) p.get(`{feed}:${i}`);
    const got = await p.exec();
    got.slice(50).forEach(([err, v], i) => {
      assert.equal(err, null);
      assert.equal(v, `f${i}`);
    });
    // A transaction within one slot.
    const tx = await c.multi().incr("{basket:9}:n").get("{basket:9}:n").exec();
    assert.deepEqual(tx, [[null, 3], [null, "3"]]);
  } finally {
    c.disconnect();
  }
}

main(Number(process.argv[2])).catch((e) => {
  console.error(e);
  process.exit(1);
});

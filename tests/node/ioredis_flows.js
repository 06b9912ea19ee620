// ioredis's everyday flows against a Meridian server: the port is the first
// argument. Run by tests/tests/clients.rs; exits non-zero with the failed
// check on stderr.
"use strict";

const assert = require("node:assert/strict");
const Redis = require("ioredis");

async function main(port) {
  const opts = { port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 1 };
  const r = new Redis(opts);
  await r.connect();
  try {
    await r.flushall();

    // Plain commands with ioredis's argument and reply conversions.
    assert.equal(await r.set("greeting", "hello", "EX", 60), "OK");
    assert.equal(await r.get("greeting"), "hello");
    const ttl = await r.ttl("greeting");
    assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
    assert.equal(await r.hset("h", { a: "1", b: "2" }), 2);
    assert.deepEqual(await r.hgetall("h"), { a: "1", b: "2" });
    assert.equal(await r.get("missing"), null);
    await assert.rejects(r.incr("h"), /WRONGTYPE/);

    // Pipelines: replies in order, each with its own error slot.
    const piped = await r.pipeline().incr("n").incrby("n", 4).lpush("h", "x").get("n").exec();
    assert.deepEqual(piped[0], [null, 1]);
    assert.deepEqual(piped[1], [null, 5]);
    assert.match(String(piped[2][0]), /WRONGTYPE/);
    assert.deepEqual(piped[3], [null, "5"]);

    // Transactions, and WATCH aborting one when another client wrote.
    assert.deepEqual(await r.multi().set("t", "1").incr("t").exec(), [[null, "OK"], [null, 2]]);
    const other = new Redis(opts);
    await other.connect();
    await r.watch("t");
    await other.set("t", "changed");
    assert.equal(await r.multi().set("t", "mine").exec(), null);
    assert.equal(await r.get("t"), "changed");

    // Scan streams.
    for (let i = 0; i < 50; i++) await r.sadd("s", `m${i}`);
    const members = new Set();
    await new Promise((resolve, reject) => {
      const stream = r.sscanStream("s", { count: 7 });
      stream.on("data", (batch) => batch.forEach((m) => members.add(m)));
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    assert.equal(members.size, 50);
    const keys = new Set();
    await new Promise((resolve, reject) => {
      const stream = r.scanStream({ match: "g*" });
      stream.on("data", (batch) => batch.forEach((k) => keys.add(k)));
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    assert.ok(keys.has("greeting"));

    // Blocking pops: woken by another client's push.
    setTimeout(() => other.rpush("queue", "job"), 200);
    assert.deepEqual(await r.blpop("queue", 5), ["queue", "job"]);

    // Lua through defineCommand (EVALSHA, falling back to EVAL on NOSCRIPT).
    await r.script("FLUSH");
    r.defineCommand("addTo", { numberOfKeys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" });
    assert.equal(await r.addTo("counter", 2), 2);
    assert.equal(await r.addTo("counter", 3), 5);

    // Pub/sub: a subscriber connection receives a publish.
    const sub = new Redis(opts);
    await sub.connect();
    const got = new Promise((resolve) => sub.on("message", (ch, msg) => resolve([ch, msg])));
    assert.equal(await sub.subscribe("news"), 1);
    assert.equal(await r.publish("news", "hi"), 1);
    assert.deepEqual(await got, ["news", "hi"]);
    const pgot = new Promise((resolve) => sub.on("pmessage", (p, ch, msg) => resolve([p, ch, msg])));
    await sub.psubscribe("n*");
    await r.publish("nope", "pattern");
    assert.deepEqual(await pgot, ["n*", "nope", "pattern"]);
    sub.disconnect();
    other.disconnect();
  } finally {
    r.disconnect();
  }
}

main(Number(process.argv[2])).then(
  () => process.exit(0),
  (err) => {
    console.error(err && err.stack ? err.stack : err);
    process.exit(1);
  },
);

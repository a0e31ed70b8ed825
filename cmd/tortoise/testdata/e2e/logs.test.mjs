// End-to-end test of the request log through PocketBase's JS SDK: pb.logs
// as PocketBase documents it (getList with a filter, getOne, getStats).
// TestJSSDK in cmd/tortoise/e2e_test.go runs it beside the others with
// TORTOISE_URL, TORTOISE_EMAIL and TORTOISE_PASSWORD set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PocketBase from 'pocketbase';

const url = process.env.TORTOISE_URL;
const email = process.env.TORTOISE_EMAIL;
const password = process.env.TORTOISE_PASSWORD;
if (!url || !email || !password) {
  throw new Error('set TORTOISE_URL, TORTOISE_EMAIL and TORTOISE_PASSWORD');
}

const pb = new PocketBase(url);
const opts = { timeout: 30_000 };

// waitFor polls fn until it returns a truthy value: entries are written
// about once a second, off the request path.
async function waitFor(fn, what) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('pb.logs lists, reads and counts the requests', opts, async () => {
  const marker = 'sdk-logs-' + Date.now();
  // A request that fails: a guest reading a collection that is not there.
  const guest = new PocketBase(url);
  await assert.rejects(guest.collection(marker).getList(1, 1), (err) => err.status === 404);
  await assert.rejects(guest.logs.getList(1, 1), (err) => err.status === 401);

  await pb.collection('_superusers').authWithPassword(email, password);
  const filter = pb.filter('data.status >= 400 && data.url ~ {:marker}', { marker });
  const page = await waitFor(async () => {
    const p = await pb.logs.getList(1, 10, { filter, sort: '-created' });
    return p.items.length > 0 && p;
  }, 'the failed request in the log');
  assert.equal(page.totalItems, 1);
  const item = page.items[0];
  assert.equal(item.level, 4);
  assert.equal(item.data.status, 404);
  assert.equal(item.data.method, 'GET');
  assert.equal(item.data.type, 'request');
  assert.equal(item.data.route, 'GET /api/collections/{collection}/records');
  assert.ok(item.data.execTime > 0);
  assert.ok(item.message.startsWith('GET /api/collections/' + marker));

  const one = await pb.logs.getOne(item.id);
  assert.equal(one.id, item.id);
  assert.equal(one.data.url, item.data.url);
  await assert.rejects(pb.logs.getOne('nosuchentry0000'), (err) => err.status === 404);

  const stats = await pb.logs.getStats({ filter });
  assert.equal(stats.length, 1);
  assert.equal(stats[0].total, 1);
  assert.match(stats[0].date, /^\d{4}-\d\d-\d\d \d\d:00:00\.000Z$/);
  await assert.rejects(pb.logs.getList(1, 1, { filter: 'data.nope = 1' }), (err) => err.status === 400);
});

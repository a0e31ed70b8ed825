// End-to-end test of batches: PocketBase's JS SDK's createBatch() against
// a running Tortoise. TestJSSDK in cmd/tortoise/e2e_test.go runs it beside
// the others (it makes its own collection) with TORTOISE_URL,
// TORTOISE_EMAIL and TORTOISE_PASSWORD set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PocketBase, { ClientResponseError } from 'pocketbase';

const url = process.env.TORTOISE_URL;
const email = process.env.TORTOISE_EMAIL;
const password = process.env.TORTOISE_PASSWORD;
if (!url || !email || !password) {
  throw new Error('set TORTOISE_URL, TORTOISE_EMAIL and TORTOISE_PASSWORD');
}

const pb = new PocketBase(url);
const opts = { timeout: 30_000 };

test('a batch creates, updates, upserts and deletes at once', opts, async () => {
  await pb.collection('_superusers').authWithPassword(email, password);
  // Batches are off until the settings turn them on, as in PocketBase.
  await assert.rejects(pb.createBatch().send(), (err) => err.status === 403 || err.status === 400);
  await pb.settings.update({ batch: { enabled: true, maxRequests: 50, timeout: 3 } });
  await pb.collections.create({
    name: 'bt_items',
    listRule: '',
    viewRule: '',
    fields: [{ name: 'title', type: 'text', required: true }, { name: 'n', type: 'number' }],
  });
  const gone = await pb.collection('bt_items').create({ title: 'gone' });

  const batch = pb.createBatch();
  batch.collection('bt_items').create({ id: 'btitem000000001', title: 'one', n: 1 });
  batch.collection('bt_items').update('btitem000000001', { 'n+': 2 });
  batch.collection('bt_items').upsert({ id: 'btitem000000002', title: 'two' });
  batch.collection('bt_items').delete(gone.id);
  const res = await batch.send();
  assert.equal(res.length, 4);
  assert.equal(res[0].status, 200);
  assert.equal(res[0].body.title, 'one');
  assert.equal(res[1].body.n, 3);
  assert.equal(res[2].body.id, 'btitem000000002');
  assert.equal(res[3].status, 204);
  const all = await pb.collection('bt_items').getFullList({ sort: 'title' });
  assert.deepEqual(all.map((r) => r.title), ['one', 'two']);
});

test('a batch with a bad item changes nothing', opts, async () => {
  const batch = pb.createBatch();
  batch.collection('bt_items').create({ title: 'three' });
  batch.collection('bt_items').delete('btitem000000001');
  batch.collection('bt_items').create({ n: 5 }); // no title: required
  await assert.rejects(batch.send(), (err) => {
    assert.ok(err instanceof ClientResponseError);
    assert.equal(err.status, 400);
    assert.equal(err.response.data.requests['2'].code, 'batch_request_failed');
    assert.equal(err.response.data.requests['2'].response.data.title.code, 'validation_required');
    return true;
  });
  const all = await pb.collection('bt_items').getFullList({ sort: 'title' });
  assert.deepEqual(all.map((r) => r.title), ['one', 'two']);
  await pb.collections.delete('bt_items');
});

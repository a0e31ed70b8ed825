// End-to-end test of full-text search through PocketBase's JS SDK: the
// search option set with pb.collections.create (the SDK passes unknown
// keys through) and getList's unknown options sent as query parameters,
// so {search: 'tortoise'} works unchanged. TestJSSDK in
// cmd/tortoise/e2e_test.go runs it beside the others with TORTOISE_URL,
// TORTOISE_EMAIL and TORTOISE_PASSWORD set.
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

test('getList with {search} ranks, highlights and pages', opts, async () => {
  await pb.collection('_superusers').authWithPassword(email, password);
  const name = 'sdk_search_' + Date.now();
  const c = await pb.collections.create({
    name,
    type: 'base',
    listRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'body', type: 'text' },
    ],
    search: { fields: [{ name: 'title', weight: 3 }, { name: 'body' }], language: 'english' },
  });
  assert.deepEqual(c.search.fields.map((f) => f.name), ['title', 'body']);
  const inBody = await pb.collection(name).create({ title: 'Garden', body: 'a tortoise sleeps' });
  const inTitle = await pb.collection(name).create({ title: 'Tortoise & care', body: 'food' });
  await pb.collection(name).create({ title: 'Hares', body: 'fast' });

  const guest = new PocketBase(url);
  const page = await guest.collection(name).getList(1, 20, { search: 'tortoise' });
  assert.deepEqual(page.items.map((r) => r.id), [inTitle.id, inBody.id]);
  assert.equal(page.totalItems, 2);
  assert.equal(page.highlights[inTitle.id].title, '<mark>Tortoise</mark> &amp; care');

  // As you type, with a typo, with a filter and a page.
  assert.equal((await guest.collection(name).getList(1, 20, { search: 'torto' })).totalItems, 2);
  // (The last word is a prefix as typed, so the typo is in the first.)
  const typo = await guest.collection(name).getList(1, 20, { search: 'tortise food' });
  assert.deepEqual(typo.items.map((r) => r.id), [inTitle.id]);
  const second = await guest.collection(name).getList(2, 1, { search: 'tortoise', filter: 'title != "x"' });
  assert.deepEqual(second.items.map((r) => r.id), [inBody.id]);

  // A plain list is PocketBase's shape, without highlights.
  const plain = await guest.collection(name).getList(1, 20);
  assert.equal(plain.highlights, undefined);
  assert.equal(plain.totalItems, 3);

  await assert.rejects(guest.collection(name).getList(1, 20, { search: 'x'.repeat(300) }), (err) => err.status === 400 && 'search' in err.response.data);
  await pb.collections.delete(name);
});

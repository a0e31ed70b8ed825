// End-to-end test of realtime: PocketBase's own JS SDK subscribing to a
// running Tortoise, as an app does. TestJSSDK in cmd/tortoise/e2e_test.go
// boots the server and runs this file beside the others (it makes its own
// collections) with
//
//	TORTOISE_URL=http://127.0.0.1:PORT TORTOISE_EMAIL=... TORTOISE_PASSWORD=... \
//	node --test realtime.test.mjs
//
// Node has no EventSource of its own: the SDK uses the one from the
// eventsource package, as PocketBase's README advises for Node. The steps
// share state and run in order.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';

globalThis.EventSource = EventSource;

const url = process.env.TORTOISE_URL;
const email = process.env.TORTOISE_EMAIL;
const password = process.env.TORTOISE_PASSWORD;
if (!url || !email || !password) {
  throw new Error('set TORTOISE_URL, TORTOISE_EMAIL and TORTOISE_PASSWORD');
}

const pb = new PocketBase(url); // the superuser
const amy = new PocketBase(url);
const ben = new PocketBase(url);
const opts = { timeout: 30_000 };

// inbox collects the events a subscription receives.
function inbox() {
  const events = [];
  const waiters = [];
  return {
    push(e) {
      events.push(e);
      waiters.splice(0).forEach((w) => w());
    },
    // next resolves with the next event, or fails after ms.
    async next(ms = 5000) {
      const deadline = Date.now() + ms;
      while (events.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('no realtime event arrived');
        await new Promise((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => { clearTimeout(t); resolve(); });
        });
      }
      return events.shift();
    },
    // none fails if an event arrives within ms.
    async none(ms = 400) {
      await new Promise((resolve) => setTimeout(resolve, ms));
      assert.deepEqual(events.map((e) => `${e.action} ${e.record?.id}`), [], 'unexpected realtime events');
    },
  };
}

const ids = {};

after(async () => {
  amy.realtime.unsubscribe();
  ben.realtime.unsubscribe();
  pb.realtime.unsubscribe();
});

test('sets up two users and private records', opts, async () => {
  await pb.collection('_superusers').authWithPassword(email, password);
  const people = await pb.collections.create({
    name: 'rt_people',
    type: 'auth',
    createRule: '',
    listRule: 'id = @request.auth.id',
    viewRule: 'id = @request.auth.id',
    fields: [{ name: 'name', type: 'text' }],
  });
  const mine = 'owner = @request.auth.id';
  await pb.collections.create({
    name: 'rt_todos',
    listRule: mine,
    viewRule: mine,
    createRule: mine,
    updateRule: mine,
    deleteRule: mine,
    fields: [
      { name: 'title', type: 'text', required: true },
      { name: 'done', type: 'bool' },
      { name: 'owner', type: 'relation', collectionId: people.id, maxSelect: 1, required: true },
    ],
  });
  for (const [client, name] of [[amy, 'amy'], [ben, 'ben']]) {
    const pw = `${name}-password-1`;
    const rec = await client.collection('rt_people').create({
      email: `${name}@example.com`, password: pw, passwordConfirm: pw, name,
    });
    ids[name] = rec.id;
    await client.collection('rt_people').authWithPassword(`${name}@example.com`, pw);
  }
});

const amyAll = inbox();
const benAll = inbox();
const amyOne = inbox();
let unsubAmyAll;

test('subscribes to a collection and receives create, update and delete', opts, async () => {
  unsubAmyAll = await amy.collection('rt_todos').subscribe('*', (e) => amyAll.push(e));
  await ben.collection('rt_todos').subscribe('*', (e) => benAll.push(e));

  const todo = await amy.collection('rt_todos').create({ title: 'buy milk', owner: ids.amy });
  ids.todo = todo.id;
  let e = await amyAll.next();
  assert.equal(e.action, 'create');
  assert.equal(e.record.id, todo.id);
  assert.equal(e.record.title, 'buy milk');
  assert.equal(e.record.collectionName, 'rt_todos');

  await amy.collection('rt_todos').update(todo.id, { done: true });
  e = await amyAll.next();
  assert.equal(e.action, 'update');
  assert.equal(e.record.done, true);

  // Ben may not see Amy's todos: the list rule filters his events.
  await benAll.none();
  const his = await ben.collection('rt_todos').create({ title: "ben's", owner: ids.ben });
  e = await benAll.next();
  assert.equal(e.record.id, his.id);
  await amyAll.none();
});

test('subscribes to one record, with expand', opts, async () => {
  await amy.collection('rt_todos').subscribe(ids.todo, (e) => amyOne.push(e), { expand: 'owner' });
  await amy.collection('rt_todos').update(ids.todo, { title: 'buy oat milk' });
  const one = await amyOne.next();
  assert.equal(one.action, 'update');
  assert.equal(one.record.title, 'buy oat milk');
  assert.equal(one.record.expand?.owner?.name, 'amy');
  const all = await amyAll.next();
  assert.equal(all.record.title, 'buy oat milk');

  await amy.collection('rt_todos').delete(ids.todo);
  assert.equal((await amyOne.next()).action, 'delete');
  const del = await amyAll.next();
  assert.equal(del.action, 'delete');
  assert.equal(del.record.id, ids.todo);
  await benAll.none();
});

test('unsubscribes', opts, async () => {
  await unsubAmyAll();
  await amy.collection('rt_todos').unsubscribe(ids.todo);
  await amy.collection('rt_todos').create({ title: 'after', owner: ids.amy });
  await amyAll.none();
  await amyOne.none();
});

test('cleans up', opts, async () => {
  await pb.collections.delete('rt_todos');
  await pb.collections.delete('rt_people');
});

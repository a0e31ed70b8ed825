// End-to-end test: PocketBase's own JS SDK against a running Tortoise.
//
// It uses the SDK exactly as an app developer would. TestJSSDK in
// cmd/tortoise/e2e_test.go boots the server and runs this file with
//
//	TORTOISE_URL=http://127.0.0.1:PORT TORTOISE_EMAIL=... TORTOISE_PASSWORD=... node --test sdk.test.mjs
//
// It can be pointed by hand at any server with no collections but its
// superusers: every expectation here also holds against PocketBase itself
// (checked with v0.39.0), so a failure against Tortoise is a difference
// from PocketBase. The steps share state and run in order, so the first
// failure is the one to read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import PocketBase, { ClientResponseError } from 'pocketbase';

const url = process.env.TORTOISE_URL;
const email = process.env.TORTOISE_EMAIL;
const password = process.env.TORTOISE_PASSWORD;
if (!url || !email || !password) {
  throw new Error('set TORTOISE_URL, TORTOISE_EMAIL and TORTOISE_PASSWORD');
}

const pb = new PocketBase(url);
const guest = new PocketBase(url);

// PocketBase's datetime format, as the docs and the SDK's filter() use it.
const dateRe = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// rejects asserts that p fails with a ClientResponseError of the given
// status and returns the error for further checks.
async function rejects(p, status) {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ClientResponseError, `expected ClientResponseError, got ${err}`);
    assert.equal(err.status, status, `status: ${JSON.stringify(err.response)}`);
    assert.equal(err.response.status, status, 'response body status');
    assert.equal(typeof err.response.message, 'string');
    assert.equal(typeof err.response.data, 'object');
    return err;
  }
  assert.fail(`expected a ${status} error, the call succeeded`);
}

// fieldError asserts a 400 naming field with code.
async function fieldError(p, field, code) {
  const err = await rejects(p, 400);
  assert.equal(err.response.data?.[field]?.code, code, `data: ${JSON.stringify(err.response.data)}`);
  return err;
}

const opts = { timeout: 30_000 };

// PocketBase's dashboard adds these to every new collection; through the
// API they are declared like any other field.
const timestamps = [
  { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
  { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
];
const ids = {}; // collection ids by name
const authors = {}; // author records by name
const posts = {}; // post records by key

before(async () => {
  await pb.health.check();
});

after(() => {
  pb.cancelAllRequests();
  guest.cancelAllRequests();
});

test('superuser logs in with password', opts, async () => {
  await rejects(pb.collection('_superusers').authWithPassword(email, password + 'x'), 400);
  assert.equal(pb.authStore.isValid, false);

  const auth = await pb.collection('_superusers').authWithPassword(email, password);
  assert.equal(typeof auth.token, 'string');
  assert.equal(auth.token, pb.authStore.token);
  assert.equal(pb.authStore.isValid, true);
  assert.equal(pb.authStore.isSuperuser, true);
  assert.equal(pb.authStore.record.email, email);
  assert.equal(pb.authStore.record.collectionName, '_superusers');
  assert.equal(auth.record.id.length, 15);
  assert.equal(auth.record.password, undefined, 'password hash leaked');
  assert.equal(auth.record.tokenKey, undefined, 'tokenKey leaked');
});

test('creates collections with every field kind', opts, async () => {
  const a = await pb.collections.create({
    name: 'authors',
    type: 'base',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'name', type: 'text', required: true },
      { name: 'rank', type: 'number' },
      ...timestamps,
    ],
  });
  ids.authors = a.id;
  assert.equal(a.name, 'authors');
  assert.equal(a.type, 'base');
  assert.equal(a.listRule, '');
  assert.equal(a.createRule, null);
  assert.deepEqual(a.fields.map((f) => f.name), ['id', 'name', 'rank', 'created', 'updated']);

  const p = await pb.collections.create({
    name: 'posts',
    listRule: '',
    viewRule: '',
    createRule: null,
    updateRule: null,
    deleteRule: null,
    fields: [
      { name: 'title', type: 'text', required: true, max: 100 },
      { name: 'body', type: 'editor' },
      { name: 'status', type: 'select', values: ['draft', 'published'], maxSelect: 1 },
      { name: 'tags', type: 'select', values: ['go', 'js', 'db', 'web'], maxSelect: 3 },
      { name: 'author', type: 'relation', collectionId: a.id, maxSelect: 1 },
      { name: 'published', type: 'bool' },
      { name: 'meta', type: 'json' },
      ...timestamps,
    ],
  });
  ids.posts = p.id;
  const title = p.fields.find((f) => f.name === 'title');
  assert.equal(title.type, 'text');
  assert.equal(title.required, true);
  assert.equal(title.max, 100);
  const tags = p.fields.find((f) => f.name === 'tags');
  assert.deepEqual(tags.values, ['go', 'js', 'db', 'web']);
  assert.equal(tags.maxSelect, 3);
  assert.equal(p.fields.find((f) => f.name === 'author').collectionId, a.id);

  const c = await pb.collections.create({
    name: 'comments',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'text', type: 'text', required: true },
      { name: 'post', type: 'relation', collectionId: p.id, maxSelect: 1, cascadeDelete: true },
      ...timestamps,
    ],
  });
  ids.comments = c.id;

  const err = await fieldError(pb.collections.create({ name: 'posts', fields: [] }), 'name', 'validation_collection_name_exists');
  assert.ok(err.response.message);

  const got = await pb.collections.getOne('posts');
  assert.equal(got.id, p.id);
  assert.deepEqual(got.fields.map((f) => f.name), p.fields.map((f) => f.name));
  const all = await pb.collections.getFullList();
  for (const name of ['_superusers', 'authors', 'posts', 'comments']) {
    assert.ok(all.some((x) => x.name === name), `collections list lacks ${name}`);
  }
  const first = await pb.collections.getFirstListItem(pb.filter('name = {:n}', { n: 'comments' }));
  assert.equal(first.id, c.id);
});

test('creates records', opts, async () => {
  for (const [name, rank] of [['Ada', 3], ['Brian', 1], ['Grace', 2]]) {
    const rec = await pb.collection('authors').create({ name, rank });
    assert.equal(rec.name, name);
    assert.equal(rec.rank, rank);
    authors[name] = rec;
  }

  const hello = await pb.collection('posts').create({
    title: 'Hello Go',
    body: '<p>First <b>post</b></p>',
    status: 'published',
    tags: ['go', 'db'],
    author: authors.Ada.id,
    published: true,
    meta: { views: 1, nested: { list: [1, 'two', null] } },
  });
  assert.equal(hello.id.length, 15);
  assert.equal(hello.collectionId, ids.posts);
  assert.equal(hello.collectionName, 'posts');
  assert.equal(hello.title, 'Hello Go');
  assert.equal(hello.body, '<p>First <b>post</b></p>');
  assert.equal(hello.status, 'published');
  assert.deepEqual(hello.tags, ['go', 'db']);
  assert.equal(hello.author, authors.Ada.id);
  assert.equal(hello.published, true);
  assert.deepEqual(hello.meta, { views: 1, nested: { list: [1, 'two', null] } });
  assert.match(hello.created, dateRe);
  assert.match(hello.updated, dateRe);
  posts.hello = hello;

  // Only the required field: everything else gets its zero value.
  const bare = await pb.collection('posts').create({ title: 'Say "hi" to JS' });
  assert.equal(bare.body, '');
  assert.equal(bare.status, '');
  assert.deepEqual(bare.tags, []);
  assert.equal(bare.author, '');
  assert.equal(bare.published, false);
  assert.equal(bare.meta, null);
  posts.bare = bare;

  posts.draft = await pb.collection('posts').create({
    title: 'Draft about databases',
    status: 'draft',
    tags: ['db'],
    author: authors.Grace.id,
    meta: [1, 2, 3],
  });
  posts.web = await pb.collection('posts').create({
    title: 'Go on the web',
    status: 'published',
    tags: ['go', 'web', 'js'],
    author: authors.Brian.id,
    published: true,
    meta: 'just a string',
  });
  assert.equal(posts.web.meta, 'just a string');

  for (const [text, post] of [['Nice!', posts.hello], ['Agreed', posts.hello], ['Hmm', posts.draft]]) {
    const c = await pb.collection('comments').create({ text, post: post.id });
    assert.equal(c.post, post.id);
  }
});

test('getOne returns a record, trimmed and expanded on request', opts, async () => {
  const rec = await pb.collection('posts').getOne(posts.hello.id);
  assert.deepEqual(rec, posts.hello);

  const trimmed = await pb.collection('posts').getOne(posts.hello.id, { fields: 'id,title' });
  assert.deepEqual(trimmed, { id: posts.hello.id, title: 'Hello Go' });

  const excerpt = await pb.collection('posts').getOne(posts.hello.id, { fields: 'body:excerpt(5,true)' });
  assert.deepEqual(excerpt, { body: 'First...' });

  const exp = await pb.collection('posts').getOne(posts.hello.id, { expand: 'author' });
  assert.equal(exp.expand.author.id, authors.Ada.id);
  assert.equal(exp.expand.author.name, 'Ada');
  assert.equal(exp.expand.author.collectionName, 'authors');

  await rejects(pb.collection('posts').getOne('nosuchrecord123'), 404);
});

test('getList pages, filters, sorts and counts', opts, async () => {
  const page1 = await pb.collection('posts').getList(1, 3, { sort: 'created,id' });
  assert.equal(page1.page, 1);
  assert.equal(page1.perPage, 3);
  assert.equal(page1.totalItems, 4);
  assert.equal(page1.totalPages, 2);
  assert.equal(page1.items.length, 3);
  const page2 = await pb.collection('posts').getList(2, 3, { sort: 'created,id' });
  assert.equal(page2.items.length, 1);
  const seen = new Set([...page1.items, ...page2.items].map((r) => r.id));
  assert.equal(seen.size, 4, 'pages overlap');

  const byTitle = await pb.collection('posts').getList(1, 30, {
    filter: pb.filter('title ~ {:q}', { q: 'go' }),
    sort: 'title',
  });
  assert.deepEqual(byTitle.items.map((r) => r.title), ['Go on the web', 'Hello Go']);
  assert.equal(byTitle.totalItems, 2);

  // Placeholders quote values safely, quotes included.
  const quoted = await pb.collection('posts').getList(1, 30, {
    filter: pb.filter('title = {:t}', { t: 'Say "hi" to JS' }),
  });
  assert.deepEqual(quoted.items.map((r) => r.id), [posts.bare.id]);

  const combined = await pb.collection('posts').getList(1, 30, {
    filter: pb.filter('status = {:s} && published = {:p} && created >= {:since}', {
      s: 'published',
      p: true,
      since: new Date(Date.now() - 3600_000),
    }),
    sort: '-title',
  });
  assert.deepEqual(combined.items.map((r) => r.title), ['Hello Go', 'Go on the web']);

  const byAuthorRank = await pb.collection('posts').getList(1, 30, { filter: 'author.rank >= 2', sort: 'title' });
  assert.deepEqual(byAuthorRank.items.map((r) => r.title), ['Draft about databases', 'Hello Go']);

  const ranked = await pb.collection('authors').getList(1, 30, { sort: '-rank' });
  assert.deepEqual(ranked.items.map((r) => r.name), ['Ada', 'Grace', 'Brian']);

  const skip = await pb.collection('posts').getList(1, 2, { skipTotal: true, sort: 'title' });
  assert.equal(skip.totalItems, -1);
  assert.equal(skip.totalPages, -1);
  assert.equal(skip.items.length, 2);

  const none = await pb.collection('posts').getList(1, 30, { filter: 'title = "nothing like this"' });
  assert.deepEqual(none.items, []);
  assert.equal(none.totalItems, 0);
  assert.equal(none.totalPages, 0);
});

// How PocketBase (v0.39) reads a multiple select in a filter: ~ matches
// within the stored list ("contains"), :each with ? asks for at least one
// item, :each with a plain operator for every item, :length counts.
test('filters on a multiple select mean what they mean in PocketBase', opts, async () => {
  const titles = async (filter) =>
    (await pb.collection('posts').getList(1, 30, { filter, sort: 'title' })).items.map((r) => r.title);
  assert.deepEqual(await titles('tags ~ "db"'), ['Draft about databases', 'Hello Go'], 'tags ~ "db"');
  assert.deepEqual(await titles('tags:each ?= "db"'), ['Draft about databases', 'Hello Go'], 'tags:each ?= "db"');
  assert.deepEqual(await titles('tags:each = "db"'), ['Draft about databases'], 'tags:each = "db"');
  assert.deepEqual(await titles('tags:length > 1'), ['Go on the web', 'Hello Go'], 'tags:length > 1');
});

test('expand follows relations and back-relations', opts, async () => {
  const list = await pb.collection('posts').getList(1, 30, {
    expand: 'author,comments_via_post',
    sort: 'title',
  });
  const hello = list.items.find((r) => r.id === posts.hello.id);
  assert.equal(hello.expand.author.name, 'Ada');
  assert.deepEqual(hello.expand.comments_via_post.map((c) => c.text).sort(), ['Agreed', 'Nice!']);
  const draft = list.items.find((r) => r.id === posts.draft.id);
  assert.equal(draft.expand.author.name, 'Grace');
  assert.deepEqual(draft.expand.comments_via_post.map((c) => c.text), ['Hmm']);
  const bare = list.items.find((r) => r.id === posts.bare.id);
  assert.equal(bare.expand?.author, undefined);
  assert.equal(bare.expand?.comments_via_post, undefined);

  // Nested expand through a back-relation and back again.
  const author = await pb.collection('authors').getOne(authors.Ada.id, { expand: 'posts_via_author.comments_via_post' });
  const authored = author.expand.posts_via_author;
  assert.deepEqual(authored.map((p) => p.id), [posts.hello.id]);
  assert.equal(authored[0].expand.comments_via_post.length, 2);

  // fields reaches into the expansion.
  const slim = await pb.collection('posts').getList(1, 30, {
    filter: pb.filter('id = {:id}', { id: posts.hello.id }),
    expand: 'author',
    fields: 'id,title,expand.author.name',
  });
  assert.deepEqual(slim.items, [{ id: posts.hello.id, title: 'Hello Go', expand: { author: { name: 'Ada' } } }]);
});

test('getFullList and getFirstListItem', opts, async () => {
  const all = await pb.collection('posts').getFullList({ sort: 'title' });
  assert.deepEqual(all.map((r) => r.title), ['Draft about databases', 'Go on the web', 'Hello Go', 'Say "hi" to JS']);

  // A small batch makes the SDK walk the pages itself (with skipTotal).
  const batched = await pb.collection('posts').getFullList({ batch: 3, sort: '-title' });
  assert.deepEqual(batched.map((r) => r.title), all.map((r) => r.title).reverse());

  const first = await pb.collection('posts').getFirstListItem(pb.filter('author = {:a}', { a: authors.Brian.id }));
  assert.equal(first.id, posts.web.id);
  // No match: the SDK itself turns the empty page into a 404.
  await assert.rejects(pb.collection('posts').getFirstListItem('title = "missing"'), (err) => {
    assert.ok(err instanceof ClientResponseError);
    assert.equal(err.status, 404);
    return true;
  });
});

test('update changes fields and applies modifiers', opts, async () => {
  const up = await pb.collection('posts').update(posts.draft.id, {
    title: 'Databases, published',
    status: 'published',
    'tags+': 'web',
    'tags-': 'db',
    published: true,
  });
  assert.equal(up.title, 'Databases, published');
  assert.equal(up.status, 'published');
  assert.deepEqual(up.tags, ['web']);
  assert.equal(up.created, posts.draft.created);
  assert.ok(up.updated >= posts.draft.updated);
  assert.deepEqual(await pb.collection('posts').getOne(posts.draft.id), up);
  posts.draft = up;

  const a = await pb.collection('authors').update(authors.Brian.id, { 'rank+': 5 });
  assert.equal(a.rank, 6);

  // Sending a fetched record back, as forms often do, works: the response
  // keys that are not fields (collectionId, expand, created, ...) are ignored.
  const fetched = await pb.collection('posts').getOne(posts.web.id, { expand: 'author' });
  const round = await pb.collection('posts').update(posts.web.id, { ...fetched, title: 'Go on the web, again' });
  assert.equal(round.title, 'Go on the web, again');
  assert.deepEqual(round.tags, posts.web.tags);
  posts.web = round;

  const ranked = await pb.collection('authors').getList(1, 30, { sort: '-rank' });
  assert.deepEqual(ranked.items.map((r) => r.name), ['Brian', 'Ada', 'Grace']);
});

test('invalid records are rejected with field errors', opts, async () => {
  const posts_ = pb.collection('posts');
  await fieldError(posts_.create({ body: 'no title' }), 'title', 'validation_required');
  await fieldError(posts_.create({ title: 'x'.repeat(101) }), 'title', 'validation_max_text_constraint');
  await fieldError(posts_.create({ title: 'ok', status: 'archived' }), 'status', 'validation_invalid_value');
  await fieldError(posts_.create({ title: 'ok', tags: ['go', 'js', 'db', 'web'] }), 'tags', 'validation_too_many_values');
  await fieldError(posts_.create({ title: 'ok', author: 'nosuchauthor123' }), 'author', 'validation_missing_rel_records');
  await fieldError(posts_.update(posts.hello.id, { title: '' }), 'title', 'validation_required');

  const err = await rejects(posts_.create({ body: 'no title', status: 'archived' }), 400);
  assert.deepEqual(Object.keys(err.response.data).sort(), ['status', 'title']);

  // Nothing above was stored.
  const list = await posts_.getList(1, 1);
  assert.equal(list.totalItems, 4);
});

test('bad queries and unknown collections', opts, async () => {
  await rejects(pb.collection('posts').getList(1, 30, { filter: 'title ~' }), 400);
  await rejects(pb.collection('posts').getList(1, 30, { filter: 'nosuchfield = 1' }), 400);
  await rejects(pb.collection('posts').getList(1, 30, { sort: '-nosuchfield' }), 400);

  await rejects(pb.collection('nosuchcollection').getList(1, 30), 404);
  await rejects(pb.collection('nosuchcollection').getOne('abcdefghijklmno'), 404);
  await rejects(pb.collection('nosuchcollection').create({ a: 1 }), 404);
  await rejects(pb.collections.getOne('nosuchcollection'), 404);
});

test('a guest can read what the rules allow and nothing more', opts, async () => {
  assert.equal(guest.authStore.isValid, false);
  const list = await guest.collection('posts').getList(1, 30, { expand: 'author', sort: 'title' });
  assert.equal(list.totalItems, 4);
  assert.equal(list.items.find((r) => r.id === posts.hello.id).expand.author.name, 'Ada');
  const one = await guest.collection('posts').getOne(posts.hello.id);
  assert.equal(one.title, 'Hello Go');

  await rejects(guest.collection('posts').create({ title: 'from a guest' }), 403);
  await rejects(guest.collection('posts').update(posts.hello.id, { title: 'defaced' }), 403);
  await rejects(guest.collection('posts').delete(posts.hello.id), 403);
  await rejects(guest.collections.getFullList(), 401);
  await rejects(guest.collection('_superusers').getList(1, 30), 403);

  // With a token that is not valid the guest is still a guest.
  const forged = new PocketBase(url);
  forged.authStore.save(pb.authStore.token.slice(0, -4) + 'AAAA', null);
  await rejects(forged.collections.getFullList(), 401);
  assert.equal((await forged.collection('posts').getList(1, 1)).totalItems, 4);
});

test('collections change without losing data', opts, async () => {
  const col = await pb.collections.getOne('posts');
  const fields = col.fields.map((f) => (f.name === 'body' ? { ...f, name: 'content' } : f));
  fields.push({ name: 'views', type: 'number', onlyInt: true });
  const up = await pb.collections.update('posts', { fields });
  assert.ok(up.fields.some((f) => f.name === 'content'));
  assert.ok(up.fields.some((f) => f.name === 'views'));
  assert.ok(!up.fields.some((f) => f.name === 'body'));
  assert.equal(up.fields.find((f) => f.name === 'content').id, col.fields.find((f) => f.name === 'body').id);

  const rec = await pb.collection('posts').getOne(posts.hello.id);
  assert.equal(rec.content, '<p>First <b>post</b></p>');
  assert.equal(rec.body, undefined);
  assert.equal(rec.views, 0);
  assert.equal(rec.title, 'Hello Go');
  assert.deepEqual(rec.tags, ['go', 'db']);
  assert.deepEqual(rec.meta, posts.hello.meta);

  const found = await pb.collection('posts').getList(1, 30, { filter: 'content ~ "First"' });
  assert.deepEqual(found.items.map((r) => r.id), [posts.hello.id]);
  await rejects(pb.collection('posts').getList(1, 30, { filter: 'body ~ "First"' }), 400);

  const counted = await pb.collection('posts').update(posts.hello.id, { 'views+': 2 });
  assert.equal(counted.views, 2);

  // Rules change at once: open creation to everyone.
  await pb.collections.update('posts', { createRule: '' });
  const byGuest = await guest.collection('posts').create({ title: 'from a guest' });
  assert.equal(byGuest.title, 'from a guest');
  await pb.collections.update('posts', { createRule: null });
  await rejects(guest.collection('posts').create({ title: 'again' }), 403);
  await pb.collection('posts').delete(byGuest.id);
});

test('delete removes records and cascades', opts, async () => {
  assert.equal(await pb.collection('posts').delete(posts.hello.id), true);
  await rejects(pb.collection('posts').getOne(posts.hello.id), 404);
  await rejects(pb.collection('posts').delete(posts.hello.id), 404);

  // The comments' relation cascades: Hello Go's two comments went with it.
  const comments = await pb.collection('comments').getFullList();
  assert.deepEqual(comments.map((c) => c.text), ['Hmm']);

  const list = await pb.collection('posts').getList(1, 30);
  assert.equal(list.totalItems, 3);
});

test('superuser token refresh', opts, async () => {
  const auth = await pb.collection('_superusers').authRefresh();
  assert.equal(typeof auth.token, 'string');
  assert.equal(auth.token, pb.authStore.token);
  assert.equal(pb.authStore.isValid, true);
  assert.equal(auth.record.email, email);
  // The refreshed token works.
  await pb.collections.getOne('posts');

  await rejects(guest.collection('_superusers').authRefresh(), 401);
});

test('scaffolds, OAuth2 presets and view collections', opts, async () => {
  const scaffolds = await pb.collections.getScaffolds();
  for (const type of ['base', 'auth', 'view']) {
    assert.equal(scaffolds[type].type, type, `scaffold ${type}`);
  }
  assert.ok(scaffolds.auth.fields.some((f) => f.name === 'email'));
  const providers = await pb.collections.getAllOAuth2Providers();
  assert.ok(providers.some((p) => p.name === 'google'));

  const sample = await pb.collections.dryRunViewQuery('SELECT id, name FROM authors');
  assert.ok(sample.length > 0 && 'name' in sample[0]);
  await rejects(pb.collections.dryRunViewQuery('DELETE FROM authors'), 400);

  const view = await pb.collections.create({
    name: 'author_names', type: 'view', listRule: '', viewRule: '',
    viewQuery: 'SELECT id, name FROM authors',
  });
  assert.equal(view.type, 'view');
  assert.deepEqual(view.fields.map((f) => f.name), ['id', 'name']);
  const names = await pb.collection('author_names').getFullList({ sort: 'name' });
  assert.ok(names.length > 0);
  await rejects(pb.collection('author_names').create({ name: 'x' }), 400);
  assert.equal(await pb.collections.delete('author_names'), true);
});

test('collections are deleted', opts, async () => {
  // posts is the target of comments.post, so it cannot go first.
  await rejects(pb.collections.delete('posts'), 400);
  await rejects(pb.collections.delete('_superusers'), 400);

  assert.equal(await pb.collections.truncate('comments'), true);
  assert.equal((await pb.collection('comments').getList(1, 1)).totalItems, 0);

  for (const name of ['comments', 'posts', 'authors']) {
    assert.equal(await pb.collections.delete(name), true);
    await rejects(pb.collections.getOne(name), 404);
    await rejects(pb.collection(name).getList(1, 30), 404);
  }

  pb.authStore.clear();
  assert.equal(pb.authStore.isValid, false);
  await rejects(pb.collections.getFullList(), 401);
});

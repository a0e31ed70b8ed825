// End-to-end test of file fields: PocketBase's JS SDK uploading to, and
// reading files from, a running Tortoise. TestJSSDK in
// cmd/tortoise/e2e_test.go runs it beside the others (it makes its own
// collections) with TORTOISE_URL, TORTOISE_EMAIL and TORTOISE_PASSWORD set,
// once with files on the local disk and, when TORTOISE_TEST_S3 is set, once
// with them in S3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PocketBase from 'pocketbase';

const url = process.env.TORTOISE_URL;
const email = process.env.TORTOISE_EMAIL;
const password = process.env.TORTOISE_PASSWORD;
if (!url || !email || !password) {
  throw new Error('set TORTOISE_URL, TORTOISE_EMAIL and TORTOISE_PASSWORD');
}

const pb = new PocketBase(url); // the superuser
const owner = new PocketBase(url);
const other = new PocketBase(url);
const opts = { timeout: 30_000 };

// A 40x20 PNG.
const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAACgAAAAUCAIAAABwJOjsAAAAL0lEQVR4nGJhYEhhY2CgP2Jh4GEYEDBq8ajFoxaPWjxq8ajFoxaPWkx/AAgAAP//58UCg/bM2HkAAAAASUVORK5CYII=', 'base64');

async function fetchStatus(u) {
  const res = await fetch(u);
  await res.arrayBuffer();
  return res.status;
}

// eventually retries fn until it returns true, for a few seconds: files a
// write lets go of leave storage just after it commits.
async function eventually(what, fn) {
  const deadline = Date.now() + 5000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ids = {};

test('uploads files and reads them back', opts, async () => {
  await pb.collection('_superusers').authWithPassword(email, password);
  const people = await pb.collections.create({
    name: 'fl_people', type: 'auth', createRule: '', viewRule: 'id = @request.auth.id',
    fields: [{ name: 'name', type: 'text' }],
  });
  await pb.collections.create({
    name: 'fl_albums',
    listRule: '', viewRule: 'owner = @request.auth.id', createRule: '@request.auth.id != ""', updateRule: 'owner = @request.auth.id',
    fields: [
      { name: 'title', type: 'text', required: true },
      { name: 'owner', type: 'relation', collectionId: people.id, maxSelect: 1 },
      { name: 'cover', type: 'file', maxSelect: 1, mimeTypes: ['image/png'], thumbs: ['20x20', '0x10'] },
      { name: 'docs', type: 'file', maxSelect: 5 },
      { name: 'secret', type: 'file', maxSelect: 1, protected: true },
    ],
  });
  for (const [client, name] of [[owner, 'owen'], [other, 'olga']]) {
    const pw = name + '-password-1';
    const rec = await client.collection('fl_people').create({ email: name + '@example.com', password: pw, passwordConfirm: pw });
    ids[name] = rec.id;
    await client.collection('fl_people').authWithPassword(name + '@example.com', pw);
  }

  const rec = await owner.collection('fl_albums').create({
    title: 'holiday',
    owner: ids.owen,
    cover: new File([png], 'cover.png', { type: 'image/png' }),
    docs: [new File(['one'], 'one.txt'), new File(['two'], 'two.txt')],
    secret: new File(['top secret'], 'secret.txt'),
  });
  ids.album = rec.id;
  assert.match(rec.cover, /^cover_[A-Za-z0-9]{10}\.png$/);
  assert.equal(rec.docs.length, 2);

  const coverURL = pb.files.getURL(rec, rec.cover);
  const res = await fetch(coverURL);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), png);

  for (const [thumb, w, h] of [['20x20', 20, 20], ['0x10', 20, 10]]) {
    const t = await fetch(pb.files.getURL(rec, rec.cover, { thumb }));
    assert.equal(t.status, 200, 'thumb ' + thumb);
    const b = Buffer.from(await t.arrayBuffer());
    // PNG: width and height at bytes 16..24 of the IHDR chunk.
    assert.equal(b.readUInt32BE(16), w, 'thumb width ' + thumb);
    assert.equal(b.readUInt32BE(20), h, 'thumb height ' + thumb);
  }
});

test('protected files need a file token', opts, async () => {
  const rec = await owner.collection('fl_albums').getOne(ids.album);
  assert.equal(await fetchStatus(owner.files.getURL(rec, rec.secret)), 403);
  const token = await owner.files.getToken();
  const res = await fetch(owner.files.getURL(rec, rec.secret, { token }));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'top secret');
  const olgas = await other.files.getToken();
  assert.equal(await fetchStatus(owner.files.getURL(rec, rec.secret, { token: olgas })), 403);
});

test('adds and deletes files', opts, async () => {
  let rec = await owner.collection('fl_albums').update(ids.album, {
    'docs+': new File(['three'], 'three.txt'),
  });
  assert.equal(rec.docs.length, 3);
  const gone = rec.docs[0];
  const goneURL = pb.files.getURL(rec, gone);
  assert.equal(await fetchStatus(goneURL), 200);
  rec = await owner.collection('fl_albums').update(ids.album, { 'docs-': [gone] });
  assert.deepEqual(rec.docs.includes(gone), false);
  await eventually('the removed file is still served', async () => (await fetchStatus(goneURL)) === 404);

  const coverURL = pb.files.getURL(rec, rec.cover);
  await owner.collection('fl_albums').delete(ids.album).catch(() => pb.collection('fl_albums').delete(ids.album));
  await eventually("a deleted record's file is still served", async () => (await fetchStatus(coverURL)) === 404);
});

// With a file, the SDK sends multipart: json values given as text (its
// documented JSON.stringify workaround, or a FormData built by hand) are
// read as JSON, other text as a string.
test('json values travel with files', opts, async () => {
  await pb.collections.create({
    name: 'fl_notes', createRule: '', viewRule: '',
    fields: [{ name: 'meta', type: 'json' }, { name: 'doc', type: 'file', maxSelect: 1 }],
  });
  const notes = pb.collection('fl_notes');
  let rec = await notes.create({ doc: new File(['a'], 'a.txt'), meta: JSON.stringify({ tags: ['x', 'y'], n: 2 }) });
  assert.deepEqual(rec.meta, { tags: ['x', 'y'], n: 2 });
  rec = await notes.create({ doc: new File(['b'], 'b.txt'), meta: { plain: 'object' } }); // @jsonPayload
  assert.deepEqual(rec.meta, { plain: 'object' });
  const fd = new FormData();
  fd.append('doc', new File(['c'], 'c.txt'));
  fd.append('meta', '[1,"two"]');
  rec = await notes.create(fd);
  assert.deepEqual(rec.meta, [1, 'two']);
  const text = new FormData();
  text.append('meta', 'just words');
  rec = await notes.create(text);
  assert.equal(rec.meta, 'just words');
  assert.deepEqual((await notes.getOne(rec.id)).meta, 'just words');
});

test('cleans up', opts, async () => {
  await pb.collections.delete('fl_notes');
  await pb.collections.delete('fl_albums');
  await pb.collections.delete('fl_people');
});

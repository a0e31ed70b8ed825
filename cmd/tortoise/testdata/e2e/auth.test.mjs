// End-to-end test of auth: PocketBase's own JS SDK against a running
// Tortoise, used as an app developer uses it for sign-up, login, owner-only
// data and the flows by mail. TestJSSDK in cmd/tortoise/e2e_test.go boots
// the server and runs this file alongside sdk.test.mjs (it makes its own
// collections, so the two do not depend on each other) with
//
//	TORTOISE_URL=http://127.0.0.1:PORT TORTOISE_EMAIL=... TORTOISE_PASSWORD=... \
//	TORTOISE_MAILBOX=DATA_DIR/mailbox node --test auth.test.mjs
//
// The server must send mail to its dev mailbox (no SMTP configured): one
// JSON file per message in TORTOISE_MAILBOX, from which this file reads the
// tokens and codes a user would click or type. The steps share state and
// run in order, so the first failure is the one to read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import PocketBase, { ClientResponseError } from 'pocketbase';

const url = process.env.TORTOISE_URL;
const email = process.env.TORTOISE_EMAIL;
const password = process.env.TORTOISE_PASSWORD;
const mailbox = process.env.TORTOISE_MAILBOX;
if (!url || !email || !password || !mailbox) {
  throw new Error('set TORTOISE_URL, TORTOISE_EMAIL, TORTOISE_PASSWORD and TORTOISE_MAILBOX');
}

const pb = new PocketBase(url); // the superuser
const guest = new PocketBase(url);
const ann = new PocketBase(url);
const bob = new PocketBase(url);

const opts = { timeout: 30_000 };

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

// The dev mailbox names each message by its send time to the nanosecond
// and a random suffix, so names sort in send order; other files (a message
// being written) do not match.
const mailName = /^\d{8}T\d{6}\.\d{9}Z-[0-9a-f]{8}\.json$/;

// recipients returns the lower-cased addresses of a To header.
function recipients(to) {
  return String(to)
    .split(',')
    .map((a) => (a.match(/<([^>]+)>/)?.[1] ?? a).trim().toLowerCase());
}

// latestMail returns the newest message to the address, or null.
function latestMail(to) {
  const names = readdirSync(mailbox).filter((n) => mailName.test(n)).sort().reverse();
  for (const name of names) {
    let m;
    try {
      m = JSON.parse(readFileSync(join(mailbox, name), 'utf8'));
    } catch (err) {
      if (err.code === 'ENOENT') continue; // rotated away meanwhile
      throw err;
    }
    if (recipients(m.to).includes(to.toLowerCase())) return m;
  }
  return null;
}

// nextMail waits for a message to the address newer than the one with id
// prev (undefined for none): the server sends mail in the background.
async function nextMail(to, prev) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = latestMail(to);
    if (m && m.id !== prev) return m;
    if (Date.now() > deadline) assert.fail(`no new mail to ${to}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// mailed calls send, which makes the server mail to, and returns the new
// message.
async function mailed(to, send) {
  const prev = latestMail(to)?.id;
  await send();
  return nextMail(to, prev);
}

// linkToken returns the token at the end of the mail's confirmation link.
function linkToken(m, action) {
  const g = m.text.match(new RegExp(`/_/#/auth/${action}/(\\S+)`));
  assert.ok(g, `no ${action} link in mail: ${m.text}`);
  return g[1];
}

const annEmail = 'ann@example.com';
const annNewEmail = 'ann.new@example.com';
const bobEmail = 'bob@example.com';
const pw = { ann: 'ann-password-1', annReset: 'ann-password-2', bob: 'bob-password-1' };
const ids = {}; // record ids by user
const entries = {}; // diary entries by key

before(async () => {
  await pb.health.check();
  await pb.collection('_superusers').authWithPassword(email, password);
});

after(() => {
  for (const c of [pb, guest, ann, bob]) c.cancelAllRequests();
});

test('superuser makes an auth collection and owner-only data', opts, async () => {
  const owner = 'id = @request.auth.id';
  const members = await pb.collections.create({
    name: 'members',
    type: 'auth',
    createRule: '',
    listRule: owner,
    viewRule: owner,
    updateRule: owner,
    deleteRule: owner,
    otp: { enabled: true, duration: 180, length: 8 },
    fields: [{ name: 'name', type: 'text' }],
  });
  assert.equal(members.type, 'auth');
  assert.equal(members.createRule, '');
  assert.equal(members.viewRule, owner);
  assert.equal(members.otp.enabled, true);
  assert.equal(members.otp.duration, 180);
  assert.equal(members.otp.length, 8);
  assert.equal(members.passwordAuth.enabled, true);
  for (const f of ['email', 'password', 'tokenKey', 'verified', 'emailVisibility', 'name']) {
    assert.ok(members.fields.some((x) => x.name === f), `members lacks the ${f} field`);
  }

  const mine = 'owner = @request.auth.id';
  const diary = await pb.collections.create({
    name: 'diary',
    listRule: mine,
    viewRule: mine,
    createRule: mine,
    updateRule: mine,
    deleteRule: mine,
    fields: [
      { name: 'text', type: 'text', required: true },
      { name: 'owner', type: 'relation', collectionId: members.id, maxSelect: 1, required: true },
    ],
  });
  assert.equal(diary.listRule, mine);
  assert.equal(diary.fields.find((f) => f.name === 'owner').collectionId, members.id);

  // Lift the rate limits: this file signs in more often than a person.
  const labels = ['auth', 'signup', 'otp', 'reset'];
  const settings = await pb.settings.update({
    rateLimits: { rules: labels.map((label) => ({ label, maxRequests: 1000, duration: 60 })) },
  });
  for (const label of labels) {
    const rule = settings.rateLimits?.rules?.find((r) => r.label === label);
    assert.ok(rule, `settings lack the ${label} rule: ${JSON.stringify(settings.rateLimits)}`);
    assert.equal(rule.maxRequests, 1000);
    assert.equal(rule.duration, 60);
  }
  const again = await pb.settings.getAll();
  assert.deepEqual(again.rateLimits, settings.rateLimits);
  await rejects(guest.settings.update({ rateLimits: { rules: [] } }), 401);
});

test('lists the auth methods', opts, async () => {
  const m = await guest.collection('members').listAuthMethods();
  assert.equal(m.password.enabled, true);
  assert.ok(m.password.identityFields.includes('email'), JSON.stringify(m.password));
  assert.equal(m.otp.enabled, true);
  assert.equal(m.otp.duration, 180);
  assert.equal(m.mfa.enabled, false);
  assert.equal(m.oauth2.enabled, false);
  assert.deepEqual(m.oauth2.providers, []);
});

test('users sign up and log in', opts, async () => {
  await rejects(
    guest.collection('members').create({ email: annEmail, password: pw.ann, passwordConfirm: pw.ann + 'x' }),
    400,
  );
  for (const [who, client, addr, name] of [['ann', ann, annEmail, 'Ann'], ['bob', bob, bobEmail, 'Bob']]) {
    const rec = await client.collection('members').create({
      email: addr,
      password: pw[who],
      passwordConfirm: pw[who],
      name,
    });
    assert.equal(rec.id.length, 15);
    assert.equal(rec.collectionName, 'members');
    assert.equal(rec.name, name);
    assert.equal(rec.verified, false);
    assert.equal(rec.password, undefined, 'password hash leaked');
    assert.equal(rec.tokenKey, undefined, 'tokenKey leaked');
    ids[who] = rec.id;
    assert.equal(client.authStore.isValid, false, 'sign-up alone does not log in');
  }
  await rejects(
    guest.collection('members').create({ email: annEmail, password: pw.ann, passwordConfirm: pw.ann }),
    400,
  );

  await rejects(ann.collection('members').authWithPassword(annEmail, pw.bob), 400);
  assert.equal(ann.authStore.isValid, false);
  const auth = await ann.collection('members').authWithPassword(annEmail, pw.ann);
  assert.equal(typeof auth.token, 'string');
  assert.equal(ann.authStore.token, auth.token);
  assert.equal(ann.authStore.isValid, true);
  assert.equal(ann.authStore.isSuperuser, false);
  assert.equal(ann.authStore.record.id, ids.ann);
  assert.equal(ann.authStore.record.email, annEmail);
  assert.equal(ann.authStore.record.name, 'Ann');
  assert.equal(ann.authStore.record.verified, false);
  assert.equal(auth.record.password, undefined, 'password hash leaked');
  assert.equal(auth.record.tokenKey, undefined, 'tokenKey leaked');

  const refreshed = await ann.collection('members').authRefresh();
  assert.equal(typeof refreshed.token, 'string');
  assert.equal(refreshed.record.id, ids.ann);
  assert.equal(ann.authStore.token, refreshed.token);
  assert.equal(ann.authStore.isValid, true);
  await rejects(guest.collection('members').authRefresh(), 401);

  await bob.collection('members').authWithPassword(bobEmail, pw.bob);
  assert.equal(bob.authStore.record.id, ids.bob);

  // Her own record is Ann's to read and change.
  const me = await ann.collection('members').getOne(ids.ann);
  assert.equal(me.email, annEmail);
  const renamed = await ann.collection('members').update(ids.ann, { name: 'Ann A.' });
  assert.equal(renamed.name, 'Ann A.');
  assert.equal(ann.authStore.record.name, 'Ann A.', 'the SDK updates its auth record');
});

test('users see only their own records', opts, async () => {
  // Someone else's member record does not exist for Bob.
  await rejects(bob.collection('members').getOne(ids.ann), 404);
  await rejects(bob.collection('members').update(ids.ann, { name: 'Mallory' }), 404);
  await rejects(bob.collection('members').delete(ids.ann), 404);
  assert.equal(bob.authStore.isValid, true);
  const list = await bob.collection('members').getList(1, 30);
  assert.equal(list.totalItems, 1);
  assert.deepEqual(list.items.map((r) => r.id), [ids.bob]);
  assert.deepEqual((await bob.collection('members').getFullList()).map((r) => r.id), [ids.bob]);
  for (const filter of [
    bob.filter('id = {:id}', { id: ids.ann }),
    bob.filter('email = {:e}', { e: annEmail }),
    'name ~ "Ann"',
  ]) {
    const found = await bob.collection('members').getList(1, 30, { filter });
    assert.equal(found.totalItems, 0, filter);
    assert.deepEqual(found.items, [], filter);
  }
  assert.equal((await guest.collection('members').getList(1, 30)).totalItems, 0);
  await rejects(guest.collection('members').getOne(ids.ann), 404);
  assert.equal((await ann.collection('members').getOne(ids.ann)).name, 'Ann A.', 'Bob changed nothing');

  // Diary entries: each user writes and reads only their own.
  entries.ann1 = await ann.collection('diary').create({ text: 'Dear diary', owner: ids.ann });
  entries.ann2 = await ann.collection('diary').create({ text: 'Secret plans', owner: ids.ann });
  entries.bob1 = await bob.collection('diary').create({ text: 'Bob was here', owner: ids.bob });
  assert.equal(entries.ann1.owner, ids.ann);
  // Nobody writes in someone else's name.
  await rejects(bob.collection('diary').create({ text: 'forged', owner: ids.ann }), 400);
  await rejects(guest.collection('diary').create({ text: 'anonymous', owner: ids.ann }), 400);

  const annList = await ann.collection('diary').getList(1, 30, { sort: 'text' });
  assert.equal(annList.totalItems, 2);
  assert.deepEqual(annList.items.map((r) => r.text), ['Dear diary', 'Secret plans']);

  const bobList = await bob.collection('diary').getList(1, 1);
  assert.equal(bobList.totalItems, 1, 'the total counts only his own entries');
  assert.equal(bobList.totalPages, 1);
  assert.deepEqual(bobList.items.map((r) => r.id), [entries.bob1.id]);
  assert.deepEqual((await bob.collection('diary').getFullList()).map((r) => r.id), [entries.bob1.id]);
  for (const filter of [
    bob.filter('owner = {:id}', { id: ids.ann }),
    bob.filter('id = {:id}', { id: entries.ann1.id }),
    'text ~ "Secret"',
    'owner.email = "ann@example.com"',
  ]) {
    const found = await bob.collection('diary').getList(1, 30, { filter });
    assert.equal(found.totalItems, 0, filter);
    assert.deepEqual(found.items, [], filter);
  }
  // The SDK itself turns getFirstListItem's empty page into a 404 error
  // (with a body of its own making), so only the status is the server's.
  await assert.rejects(bob.collection('diary').getFirstListItem(bob.filter('owner = {:id}', { id: ids.ann })), (err) => {
    assert.ok(err instanceof ClientResponseError, `expected ClientResponseError, got ${err}`);
    assert.equal(err.status, 404);
    return true;
  });
  await rejects(bob.collection('diary').getOne(entries.ann1.id), 404);
  await rejects(bob.collection('diary').update(entries.ann1.id, { text: 'defaced' }), 404);
  await rejects(bob.collection('diary').delete(entries.ann1.id), 404);
  const guestList = await guest.collection('diary').getList(1, 30);
  assert.equal(guestList.totalItems, 0);
  assert.equal((await ann.collection('diary').getOne(entries.ann1.id)).text, 'Dear diary', 'untouched');
  assert.equal((await ann.collection('diary').update(entries.ann2.id, { text: 'Plans' })).text, 'Plans');
});

test('verifies the email with the mailed link', opts, async () => {
  assert.equal(ann.authStore.record.verified, false);
  const m = await mailed(annEmail, async () => {
    assert.equal(await guest.collection('members').requestVerification(annEmail), true);
  });
  assert.ok(recipients(m.to).includes(annEmail));
  const token = linkToken(m, 'confirm-verification');
  await rejects(guest.collection('members').confirmVerification(token + 'x'), 400);

  assert.equal(await ann.collection('members').confirmVerification(token), true);
  assert.equal(ann.authStore.record.verified, true, 'the SDK marks its auth record verified');
  const refreshed = await ann.collection('members').authRefresh();
  assert.equal(refreshed.record.verified, true, 'the server says verified');
  assert.equal(ann.authStore.record.verified, true);
  assert.equal((await ann.collection('members').getOne(ids.ann)).verified, true);
  // Bob is still unverified.
  assert.equal((await bob.collection('members').authRefresh()).record.verified, false);
});

test('resets the password with the mailed link', opts, async () => {
  const oldToken = ann.authStore.token;
  const m = await mailed(annEmail, async () => {
    assert.equal(await guest.collection('members').requestPasswordReset(annEmail), true);
  });
  const token = linkToken(m, 'confirm-password-reset');

  await rejects(guest.collection('members').confirmPasswordReset(token, pw.annReset, pw.annReset + 'x'), 400);
  assert.equal(await guest.collection('members').confirmPasswordReset(token, pw.annReset, pw.annReset), true);
  // A reset link works once.
  await rejects(guest.collection('members').confirmPasswordReset(token, 'ann-password-3', 'ann-password-3'), 400);

  // The session from before the reset is over.
  assert.equal(ann.authStore.token, oldToken);
  await rejects(ann.collection('members').authRefresh(), 401);
  await rejects(ann.collection('diary').getOne(entries.ann1.id), 404);
  await rejects(ann.collection('members').authWithPassword(annEmail, pw.ann), 400);
  const auth = await ann.collection('members').authWithPassword(annEmail, pw.annReset);
  assert.equal(auth.record.id, ids.ann);
  assert.equal(ann.authStore.isValid, true);
  assert.equal((await ann.collection('diary').getOne(entries.ann1.id)).text, 'Dear diary');
});

test('logs in with a one-time password by mail', opts, async () => {
  const otpClient = new PocketBase(url);
  let otpId;
  const m = await mailed(annEmail, async () => {
    const res = await otpClient.collection('members').requestOTP(annEmail);
    assert.equal(typeof res.otpId, 'string');
    assert.ok(res.otpId.length > 0);
    otpId = res.otpId;
  });
  const code = m.text.match(/one-time password is: (\d+)/)?.[1];
  assert.ok(code, `no code in mail: ${m.text}`);
  assert.equal(code.length, 8, 'the collection asks for 8 digits');

  const auth = await otpClient.collection('members').authWithOTP(otpId, code);
  assert.equal(typeof auth.token, 'string');
  assert.equal(auth.record.id, ids.ann);
  assert.equal(auth.record.email, annEmail);
  assert.equal(otpClient.authStore.isValid, true);
  assert.equal(otpClient.authStore.record.id, ids.ann);
  assert.equal((await otpClient.collection('diary').getList(1, 30)).totalItems, 2);

  // A code works once.
  await rejects(new PocketBase(url).collection('members').authWithOTP(otpId, code), 400);
  otpClient.cancelAllRequests();
});

test('changes the email with the link mailed to the new address', opts, async () => {
  await rejects(guest.collection('members').requestEmailChange(annNewEmail), 401);
  // A taken address is refused. Bob asks, not Ann: each of Ann's requests
  // for a mail (verification, reset, email change), refused or not, counts
  // towards Tortoise's per-account limit of 3 in 15 minutes for the "reset"
  // label; the settings' rateLimits change only the per-IP limit.
  await rejects(bob.collection('members').requestEmailChange(annEmail), 400);

  const m = await mailed(annNewEmail, async () => {
    assert.equal(await ann.collection('members').requestEmailChange(annNewEmail), true);
  });
  assert.ok(recipients(m.to).includes(annNewEmail), 'sent to the new address');
  const token = linkToken(m, 'confirm-email-change');

  await rejects(ann.collection('members').confirmEmailChange(token, pw.ann), 400);
  assert.equal(ann.authStore.isValid, true);
  assert.equal(await ann.collection('members').confirmEmailChange(token, pw.annReset), true);
  assert.equal(ann.authStore.isValid, false, 'the SDK logs out after an email change');

  await rejects(ann.collection('members').authWithPassword(annEmail, pw.annReset), 400);
  const auth = await ann.collection('members').authWithPassword(annNewEmail, pw.annReset);
  assert.equal(auth.record.id, ids.ann);
  assert.equal(auth.record.email, annNewEmail);
  assert.equal(auth.record.verified, true);
  assert.equal((await ann.collection('diary').getList(1, 30)).totalItems, 2, 'the data stays hers');
});

test('cleans up', opts, async () => {
  for (const name of ['diary', 'members']) {
    assert.equal(await pb.collections.delete(name), true);
    await rejects(pb.collections.getOne(name), 404);
  }
});

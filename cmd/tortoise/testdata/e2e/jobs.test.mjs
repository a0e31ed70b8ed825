// End-to-end test of jobs and crons through PocketBase's JS SDK: pb.crons
// as PocketBase documents it, and our /api/jobs and /api/crons through
// pb.send. TestJSSDK in cmd/tortoise/e2e_test.go runs it beside the others
// with TORTOISE_URL, TORTOISE_EMAIL and TORTOISE_PASSWORD set.
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

// waitFor polls fn until it returns a truthy value.
async function waitFor(fn, what) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('pb.crons lists crons and runs one now', opts, async () => {
  await pb.collection('_superusers').authWithPassword(email, password);
  await pb.send('/api/crons', {
    method: 'POST',
    body: { id: 'sdk-digest', expression: '0 8 * * *', kind: 'email', args: { to: 'sdk@example.com', subject: 'Digest', text: 'hi' } },
  });
  const list = await pb.crons.getFullList();
  const cron = list.find((c) => c.id === 'sdk-digest');
  assert.equal(cron.expression, '0 8 * * *');
  assert.ok(await pb.crons.run('sdk-digest'));
  const done = await waitFor(async () => {
    const c = await pb.send('/api/crons/sdk-digest', {});
    return c.last && c.last.state === 'completed' && c.last;
  }, 'the cron run');
  assert.equal(done.kind, 'email');
  await pb.send('/api/crons/sdk-digest', { method: 'DELETE' });
});

test('a job enqueued over HTTP runs and is listed', opts, async () => {
  await pb.collection('_superusers').authWithPassword(email, password);
  const { job } = await pb.send('/api/jobs', {
    method: 'POST',
    body: { kind: 'email', args: { to: 'sdk-job@example.com', subject: 'Job', text: 'from the SDK' } },
  });
  const finished = await waitFor(async () => {
    const j = await pb.send(`/api/jobs/${job.id}`, {});
    return j.state === 'completed' && j;
  }, 'the job');
  assert.equal(finished.attempt, 1);
  const page = await pb.send('/api/jobs', { query: { kind: 'email', state: 'completed' } });
  assert.ok(page.items.some((j) => j.id === job.id));
  // Only superusers.
  pb.authStore.clear();
  await assert.rejects(pb.send('/api/jobs', {}), (err) => err.status === 401);
});

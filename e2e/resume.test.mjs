// Browser end-to-end test of resume and the persisted outbox ("never lose, never duplicate"):
// the real server binary, the embedded web client, system Chromium.
//
// - Ana is away (the browser context goes offline) while Ben posts 30 messages; back online she
//   resumes with `sync` and sees all 30 once, in order, without reloading.
// - Ana sends while offline ("Sending…", in IndexedDB), closes the page, comes back online in
//   a new page: the message is delivered exactly once.
// - A send that reached the server before the connection dropped (its ack lost) is not stored
//   or shown twice.
// - A refused send is marked failed with Retry and Discard; screenshots of "Sending…" and the
//   failed state at 360×640.
// - Past the server's sync gap limit (`--sync-gap-limit 20`): the newest messages show at once
//   and scrolling up pages in the rest. With 60 missed the server's newest 100 still reach
//   back to Ana's position; with 120 there is a real `sync:gap`, shown as a marker in the list
//   and paged in with `?before=` as she scrolls up to it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startServer, CHEAP_PASSWORD_HASHING } from './lib/server.mjs';
import {
  launch, openUser, newPage, signUp, waitConnected, waitConn, channelItem, send, message,
  screenshot, artifactsDir, committed, countBody, outboxRecords, postMessages, history, recordFrames,
  recordConn, connLog, scrollToTop,
} from './lib/browser.mjs';

const PASSWORD = 'correct horse battery';

/** Asserts `expected` bodies each appear exactly once among `got`, in this order. */
function assertOnceInOrder(got, expected, label) {
  const bodies = got.map((m) => m.body);
  for (const b of expected) {
    assert.equal(bodies.filter((x) => x === b).length, 1, `${label}: "${b}" shown exactly once`);
  }
  const positions = expected.map((b) => bodies.indexOf(b));
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b), `${label}: in order`);
  const seqs = got.map((m) => m.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `${label}: DOM ordered by seq`);
  assert.equal(new Set(seqs).size, seqs.length, `${label}: no seq twice`);
}

/** Waits until the page's outbox holds `n` records; returns them. */
async function waitOutbox(page, n) {
  for (let i = 0; i < 100; i++) {
    const recs = await outboxRecords(page);
    if (recs.length === n) return recs;
    await page.waitForTimeout(20);
  }
  throw new Error(`outbox never held ${n} record(s): ${JSON.stringify(await outboxRecords(page))}`);
}

/** A test harness: one server, a browser, users, and a step() that screenshots failures. */
function harness({ args = [], env = {} } = {}) {
  const h = { server: null, browser: null, users: [] };
  before(async () => {
    fs.mkdirSync(artifactsDir, { recursive: true });
    h.server = await startServer({ args, env: { ...CHEAP_PASSWORD_HASHING, ...env } });
    h.browser = await launch();
  });
  after(async () => {
    for (const u of h.users) await u.context.close().catch(() => {});
    if (h.browser) await h.browser.close().catch(() => {});
    if (h.server) await h.server.stop();
  });
  h.step = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      for (const [i, u] of h.users.entries()) {
        if (!u.page.isClosed()) await screenshot(u.page, `failure-resume-${name}-${i}.png`).catch(() => {});
      }
      if (h.server) e.message += `\n--- server log (tail) ---\n${h.server.logs().split('\n').slice(-30).join('\n')}`;
      throw e;
    }
  };
  h.open = async (opts) => {
    const u = await openUser(h.browser, h.server.base, opts);
    h.users.push(u);
    return u;
  };
  /** No page errors, dialogs or CSP violations on any page so far. */
  h.assertClean = () => {
    for (const u of h.users) {
      assert.deepEqual(u.events.pageErrors, [], 'no uncaught page errors');
      assert.deepEqual(u.events.dialogs, [], 'no dialogs');
      const csp = u.events.consoleErrors.filter((m) => /Content.Security.Policy/i.test(m));
      assert.deepEqual(csp, [], 'no Content-Security-Policy violations');
    }
  };
  return h;
}

describe('Resume and outbox', { timeout: 90000 }, () => {
  const h = harness();
  let ana;
  let ben;
  let general;
  let anaId;

  it('Ana and Ben are in #general', () => h.step('setup', async () => {
    ana = await h.open();
    ben = await h.open();
    await signUp(ana.page, { username: 'ana', password: PASSWORD, displayName: 'Ana Lima' });
    await signUp(ben.page, { username: 'ben', password: PASSWORD, displayName: 'Ben Okafor' });
    general = await channelItem(ana.page, 'general').getAttribute('data-channel-id');
    anaId = await ana.page.evaluate(async () => (await (await fetch('/api/users/me')).json()).id);
    await send(ana.page, 'Morning! Anyone around?');
    await message(ben.page, 'Morning! Anyone around?', { committed: true }).waitFor();
  }));

  it('catch-up after being away: all 30 missed messages once, in order, no reload', () => h.step('catchup', async () => {
    const frames = recordFrames(ana.page);
    await recordConn(ana.page);
    const heldTop = Math.max(...(await committed(ana.page)).map((m) => m.seq));

    await ana.context.setOffline(true);
    await waitConn(ana.page, 'offline');
    const bodies = Array.from({ length: 30 }, (_, i) => `Standup note ${i + 1} of 30`);
    await postMessages(ben.page, general, bodies);
    await message(ben.page, bodies[29]).waitFor();
    assert.equal(await countBody(ana.page, bodies[0]), 0, 'Ana saw nothing while offline');

    await ana.context.setOffline(false); // the `online` event reconnects at once
    await waitConnected(ana.page);
    await message(ana.page, bodies[29], { committed: true }).waitFor();
    assertOnceInOrder(await committed(ana.page), bodies, 'Ana after resume');

    const log = await connLog(ana.page);
    assert.ok(log.includes('offline'), `went offline: ${log}`);
    assert.ok(log.includes('syncing'), `showed Syncing… on the way back: ${log}`);
    assert.equal(log[log.length - 1], 'connected');
    // The resume used the gateway's `sync` from the last seq held, and it was answered.
    const req = frames.find((f) => f.dir === 'out' && f.type === 'sync');
    assert.ok(req, 'a sync request was sent');
    assert.deepEqual(req.data.channels, [{ channel_id: general, after_seq: heldTop }]);
    assert.ok(frames.some((f) => f.dir === 'in' && f.type === 'sync:messages'), 'replayed with sync:messages');
    assert.ok(frames.some((f) => f.dir === 'in' && f.type === 'sync:done' && f.id === req.id), 'sync:done echoes the id');
    assert.equal(frames.filter((f) => f.dir === 'in' && f.type === 'ready').length, 1, 'one reconnect');
  }));

  it('an offline send survives closing the page and is delivered exactly once', () => h.step('offline-send', async () => {
    const text = 'Written on the train, no signal';
    await ana.context.setOffline(true);
    await waitConn(ana.page, 'offline');
    const input = ana.page.getByTestId('composer-input');
    await input.fill(text);
    await input.press('Enter');
    const pending = message(ana.page, text);
    await pending.and(ana.page.locator('[data-state="sending"]')).waitFor();
    assert.match(await pending.getByTestId('message-status').textContent(), /Sending…/);
    // Persisted (the wire is down, so it cannot have gone out).
    const [rec] = await waitOutbox(ana.page, 1);
    assert.equal(rec.body, text);
    // A time-ordered key (UUIDv7), as the server's idempotency index prefers: its first 48 bits
    // are the time it was made.
    assert.match(rec.client_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const keyMs = parseInt(rec.client_id.replace(/-/g, '').slice(0, 12), 16);
    assert.ok(Math.abs(keyMs - Date.now()) < 60000, `the key's time ${keyMs} is now`);
    assert.equal(rec.channel_id, general);
    assert.equal(rec.state, 'sending');
    assert.equal(rec.user_id, anaId);

    // Close the tab while offline, come back online in a new one (same IndexedDB).
    await ana.page.close();
    await ana.context.setOffline(false);
    ana.page = await newPage(ana.context, h.server.base, ana.events);
    await waitConnected(ana.page);
    await message(ana.page, text, { committed: true }).waitFor();
    await message(ben.page, text, { committed: true }).waitFor();
    assert.equal(await countBody(ana.page, text), 1, 'Ana sees it once');
    assert.equal(await countBody(ben.page, text), 1, 'Ben sees it once');
    assert.equal(await message(ana.page, text).getAttribute('data-state'), 'sent');
    const stored = (await history(ben.page, general)).filter((m) => m.body === text);
    assert.equal(stored.length, 1, 'stored once');
    assert.equal(stored[0].client_id, rec.client_id, 'with the client_id it was given offline');
    assert.deepEqual(await outboxRecords(ana.page), [], 'the outbox is empty again');
  }));

  it('a send that reached the server before its ack was lost is stored and shown once', () => h.step('lost-ack', async () => {
    const text = 'This one made it, the ack did not';
    await ana.context.setOffline(true);
    await waitConn(ana.page, 'offline');
    const input = ana.page.getByTestId('composer-input');
    await input.fill(text);
    await input.press('Enter');
    await message(ana.page, text).and(ana.page.locator('[data-state="sending"]')).waitFor();
    const [rec] = await waitOutbox(ana.page, 1);
    // The same send lands on the server (as if the frame went out just before the drop).
    const res = await ana.context.request.post(`${h.server.base}/api/messages`, {
      data: { channel_id: general, body: text, client_id: rec.client_id },
    });
    assert.equal(res.status(), 201);
    await message(ben.page, text, { committed: true }).waitFor();

    await ana.context.setOffline(false);
    await waitConnected(ana.page);
    await message(ana.page, text, { committed: true }).waitFor();
    await ana.page.waitForTimeout(300); // any duplicate would have arrived by now
    assert.equal(await countBody(ana.page, text), 1, 'Ana sees it once');
    assert.equal(await countBody(ben.page, text), 1, 'Ben sees it once');
    assert.equal((await history(ben.page, general)).filter((m) => m.body === text).length, 1, 'stored once');
    assert.deepEqual(await outboxRecords(ana.page), []);
  }));

  it('a refused sync falls back to REST; a rate-limited send stays queued and goes out once', () => h.step('fallback', async () => {
    // A second tab of Ana's whose socket runs through a proxy that refuses `sync` (as an old
    // server would) and answers her first send with `rate_limited`.
    const page = await ana.context.newPage();
    page.setDefaultTimeout(10000);
    const seen = [];
    let limitOnce = true;
    await page.routeWebSocket(/\/api\/ws$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((text) => {
        const f = JSON.parse(String(text));
        seen.push(f.type);
        if (f.type === 'sync') {
          ws.send(JSON.stringify({ type: 'error', id: f.id, data: { code: 'unknown_type', message: 'unknown event type' } }));
        } else if (f.type === 'message:send' && limitOnce) {
          limitOnce = false;
          ws.send(JSON.stringify({
            type: 'error', id: f.id, data: { code: 'rate_limited', message: 'too many requests', retry_after_ms: 400 },
          }));
        } else {
          server.send(text);
        }
      });
    });
    await page.goto(h.server.base);
    await waitConnected(page);
    await message(page, 'Morning! Anyone around?', { committed: true }).waitFor();

    await ana.context.setOffline(true);
    await waitConn(page, 'offline');
    const bodies = ['Fallback 1', 'Fallback 2', 'Fallback 3', 'Fallback 4', 'Fallback 5'];
    await postMessages(ben.page, general, bodies);
    await ana.context.setOffline(false);
    await waitConnected(page);
    await message(page, bodies[4], { committed: true }).waitFor();
    assertOnceInOrder(await committed(page), bodies, 'after the REST fallback');
    assert.ok(seen.includes('sync'), 'a sync was tried first');

    const text = 'Third time lucky';
    const input = page.getByTestId('composer-input');
    await input.fill(text);
    await input.press('Enter');
    await message(page, text, { committed: true }).waitFor();
    await message(ben.page, text, { committed: true }).waitFor();
    assert.equal(seen.filter((t) => t === 'message:send').length, 2, 'refused once, then sent again');
    assert.equal(await countBody(page, text), 1);
    assert.equal(await countBody(ben.page, text), 1);
    assert.equal((await history(ben.page, general)).filter((m) => m.body === text).length, 1);
    await page.close();
  }));

  it('a refused send fails with Retry and Discard; Sending… and failed at 360×640', () => h.step('failed', async () => {
    await ana.page.setViewportSize({ width: 360, height: 640 });
    const bad = 'Bell character here: \u0007 (servers refuse control characters)';
    const queued = 'Heading into the tunnel, this goes out later';
    const input = ana.page.getByTestId('composer-input');
    await input.fill(bad);
    await input.press('Enter');
    const failed = message(ana.page, bad);
    await failed.and(ana.page.locator('[data-state="failed"]')).waitFor();
    await failed.getByTestId('message-retry').waitFor();
    await failed.getByTestId('message-discard').waitFor();
    assert.match(await failed.getByTestId('message-status').textContent(), /Not sent/);
    assert.ok((await failed.getByTestId('message-error').textContent()).length > 0, 'the reason is shown');

    await ana.context.setOffline(true);
    await waitConn(ana.page, 'offline');
    await input.fill(queued);
    await input.press('Enter');
    await message(ana.page, queued).and(ana.page.locator('[data-state="sending"]')).waitFor();
    await ana.page.getByTestId('conn-pill').filter({ hasText: 'Offline' }).waitFor();
    await ana.page.waitForTimeout(300); // let the bubbles finish animating in
    await screenshot(ana.page, 'mobile-360x640-outbox.png');
    const states = Object.fromEntries((await outboxRecords(ana.page)).map((r) => [r.body, r.state]));
    assert.deepEqual(states, { [bad]: 'failed', [queued]: 'sending' }, 'both persisted with their state');

    // Retry re-sends with the same client_id (once online, it is refused again); the queued
    // one goes out after the resume.
    await failed.getByTestId('message-retry').click();
    await message(ana.page, bad).and(ana.page.locator('[data-state="sending"]')).waitFor();
    await ana.context.setOffline(false);
    await waitConnected(ana.page);
    await message(ana.page, queued, { committed: true }).waitFor();
    await message(ana.page, bad).and(ana.page.locator('[data-state="failed"]')).waitFor();
    await message(ana.page, bad).getByTestId('message-discard').click();
    await message(ana.page, bad).waitFor({ state: 'detached' });
    assert.deepEqual(await outboxRecords(ana.page), [], 'discarded and delivered entries are gone');
    assert.equal(await countBody(ben.page, queued), 1);
    assert.equal(await countBody(ben.page, bad), 0);
    await ana.page.setViewportSize({ width: 1280, height: 800 });
    h.assertClean();
  }));
});

describe('Resume past the sync gap limit', { timeout: 90000 }, () => {
  // Ben posts 180 messages in seconds: lift the per-user send rate (env, so a binary without
  // rate limits ignores it; postMessages also waits out any 429).
  const h = harness({
    args: ['--sync-gap-limit', '20'],
    env: { BANTER_RATE_MESSAGES_PER_SECOND: '1000', BANTER_RATE_MESSAGES_BURST: '1000' },
  });
  let ana;
  let ben;
  let general;

  it('Ana and Ben are in #general with some history', () => h.step('gap-setup', async () => {
    ana = await h.open();
    ben = await h.open();
    await signUp(ana.page, { username: 'ana', password: PASSWORD, displayName: 'Ana Lima' });
    await signUp(ben.page, { username: 'ben', password: PASSWORD, displayName: 'Ben Okafor' });
    general = await channelItem(ben.page, 'general').getAttribute('data-channel-id');
    await postMessages(ben.page, general, ['Warm-up 1', 'Warm-up 2', 'Warm-up 3']);
    await message(ana.page, 'Warm-up 3', { committed: true }).waitFor();
  }));

  /** Ana away while Ben posts `n`; back online she must end up with all of them once. */
  async function awayWhileBenPosts(n, label) {
    const frames = recordFrames(ana.page);
    // She was reading the latest messages when she left.
    await ana.page.getByTestId('message-list').evaluate((list) => { list.scrollTop = list.scrollHeight; });
    await ana.context.setOffline(true);
    await waitConn(ana.page, 'offline');
    const bodies = Array.from({ length: n }, (_, i) => `${label} ${String(i + 1).padStart(3, '0')}`);
    await postMessages(ben.page, general, bodies);
    await ana.context.setOffline(false);
    await waitConnected(ana.page);
    // The newest show at once, without scrolling.
    await message(ana.page, bodies[n - 1], { committed: true }).waitFor();
    return { bodies, frames };
  }

  it('60 missed (limit 20): the newest show, scrolling up brings all 60 once, in order', () => h.step('gap-60', async () => {
    const { bodies, frames } = await awayWhileBenPosts(60, 'Batch A');
    await scrollToTop(ana.page);
    assertOnceInOrder(await committed(ana.page), ['Warm-up 1', ...bodies], 'Ana after 60');
    assert.ok(frames.some((f) => f.dir === 'in' && f.type === 'sync:done'), 'resumed with sync');
  }));

  it('120 missed: a sync:gap marker in the list, paged in by scrolling up', () => h.step('gap-120', async () => {
    const { bodies, frames } = await awayWhileBenPosts(120, 'Batch B');
    const gap = frames.find((f) => f.dir === 'in' && f.type === 'sync:gap');
    assert.ok(gap, 'the server marked a gap');
    assert.equal(gap.data.channel_id, general);
    // The hole is visible, not silent: a marker above the newest messages that pages itself
    // in when it scrolls into view. The server replays only the newest 20 (the gap limit), which
    // may not fill the screen, so the marker can already be loading, or have paged in some of
    // the hole already: if it is still there it names what is left of the gap, and everything
    // from there up to the gap's upper bound is shown.
    const marker = ana.page.getByTestId('history-gap');
    const before = await marker.getAttribute('data-before', { timeout: 1000 }).catch(() => null);
    if (before !== null) {
      assert.ok(Number(before) <= gap.data.before_seq, `the marker (${before}) is inside the gap`);
      const shown = new Set((await committed(ana.page)).map((m) => m.seq));
      for (let seq = Number(before); seq < gap.data.before_seq; seq++) {
        assert.ok(shown.has(seq), `seq ${seq}, between the marker and the gap's upper bound, is shown`);
      }
    }
    await scrollToTop(ana.page);
    await marker.waitFor({ state: 'detached' });
    assertOnceInOrder(await committed(ana.page), ['Warm-up 1', 'Batch A 001', ...bodies], 'Ana after 120');
    const all = await committed(ana.page);
    const rest = await history(ana.page, general);
    assert.deepEqual(all.map((m) => m.seq), rest.map((m) => m.seq), 'the DOM holds the whole channel, gap-free');
    h.assertClean();
  }));
});

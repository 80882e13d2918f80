// Browser end-to-end test: the real server binary, the embedded web client, system Chromium.
// Ana and Ben sign up, chat in #general, in a private channel and in a DM; HTML in a message
// stays text; history survives a reload; a third user cannot see the private channel; log-out
// works; screenshots at 360×640 and 1280×800 land in e2e/artifacts/.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, CHEAP_PASSWORD_HASHING } from './lib/server.mjs';
import {
  launch, openUser, signUp, logIn, waitConnected, channelItem, openChannel, send, message, screenshot,
  artifactsDir,
} from './lib/browser.mjs';

const PASSWORD = 'correct horse battery';
const XSS = '<img src=x onerror=alert(1)>';
const ANA = { username: 'ana', password: PASSWORD, displayName: 'Ana Lima', email: 'ana@example.com' };
const BEN = { username: 'ben', password: PASSWORD, displayName: 'Ben Okafor' };
const CAT = { username: 'cat', password: PASSWORD, displayName: 'Cat Nguyen' };
const PRIVATE = 'launch-plans';

describe('Banter web client', { timeout: 150000 }, () => {
  let server;
  let browser;
  let ana;
  let ben;
  const users = [];

  before(async () => {
    fs.mkdirSync(artifactsDir, { recursive: true });
    for (const f of fs.readdirSync(artifactsDir)) {
      if (f.startsWith('failure-')) fs.rmSync(path.join(artifactsDir, f));
    }
    server = await startServer({ env: CHEAP_PASSWORD_HASHING });
    browser = await launch();
  });

  after(async () => {
    for (const u of users) await u.context.close().catch(() => {});
    if (browser) await browser.close().catch(() => {});
    if (server) await server.stop();
  });

  /** Runs a step; on failure saves a screenshot of every open page next to the artifacts. */
  async function step(name, fn) {
    try {
      await fn();
    } catch (e) {
      for (const [i, u] of users.entries()) {
        await screenshot(u.page, `failure-${name}-${i}.png`).catch(() => {});
      }
      if (server) e.message += `\n--- server log (tail) ---\n${server.logs().split('\n').slice(-30).join('\n')}`;
      throw e;
    }
  }

  async function open(opts) {
    const u = await openUser(browser, server.base, opts);
    users.push(u);
    return u;
  }

  it('Ana and Ben sign up and both land in #general', () => step('signup', async () => {
    ana = await open();
    ben = await open();
    await ana.page.getByTestId('auth-form').waitFor();
    await signUp(ana.page, ANA);
    await signUp(ben.page, BEN);
    for (const u of [ana, ben]) {
      assert.equal(await u.page.getByTestId('channel-title').textContent(), 'general');
      await u.page.getByTestId('composer-input').waitFor();
    }
    assert.equal(await ana.page.getByTestId('me-name').textContent(), 'Ana Lima');
  }));

  it('sign-up shows the server error for a taken username', () => step('taken', async () => {
    const x = await open();
    await x.page.getByTestId('auth-tab-signup').click();
    await x.page.getByTestId('auth-username').fill('ANA');
    await x.page.getByTestId('auth-password').fill(PASSWORD);
    await x.page.getByTestId('auth-submit').click();
    const err = x.page.getByTestId('auth-error');
    await err.waitFor();
    assert.ok((await err.textContent()).trim().length > 0, 'an error message is shown');
    await x.context.close();
    users.splice(users.indexOf(x), 1);
  }));

  it('they chat both ways in #general in real time', () => step('general', async () => {
    await send(ana.page, 'Hi Ben, welcome to Banter!');
    await message(ben.page, 'Hi Ben, welcome to Banter!', { committed: true }).waitFor();
    await send(ben.page, 'Thanks Ana, glad to be here. Shall we plan the launch?');
    await message(ana.page, 'Thanks Ana, glad to be here. Shall we plan the launch?').waitFor();

    await send(ana.page, 'Yes! Kick-off is Friday at 10:00, I will share the agenda here.');
    await message(ben.page, 'Yes! Kick-off is Friday at 10:00, I will share the agenda here.').waitFor();
    await send(ben.page, 'Count me in. I will bring the release notes.');
    await message(ana.page, 'Count me in. I will bring the release notes.').waitFor();

    const fromBen = message(ana.page, 'Thanks Ana, glad to be here. Shall we plan the launch?');
    assert.equal(await fromBen.getAttribute('data-mine'), 'false');
    assert.equal(await fromBen.getByTestId('message-author').textContent(), 'Ben Okafor');
    assert.equal(await message(ana.page, 'Hi Ben, welcome to Banter!').getAttribute('data-mine'), 'true');
    // Ordered by seq on both sides.
    for (const u of [ana, ben]) {
      const seqs = await u.page.locator('[data-testid="message"]:not([data-seq=""])')
        .evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
    }
  }));

  it('Ana creates a private channel, invites Ben, and both post there', () => step('private', async () => {
    await ana.page.getByTestId('create-channel').click();
    await ana.page.getByTestId('channel-name-input').fill(PRIVATE);
    await ana.page.getByTestId('channel-topic-input').fill('Dates, owners and the checklist');
    await ana.page.getByTestId('channel-kind-private').check();
    await ana.page.getByTestId('create-channel-submit').click();
    await ana.page.locator('[data-testid="channel-title"]', { hasText: PRIVATE }).waitFor();
    await channelItem(ana.page, PRIVATE).waitFor();

    await ana.page.getByTestId('invite-button').click();
    await ana.page.getByTestId('user-search-input').fill('be');
    await ana.page.locator('[data-testid="user-result"][data-username="ben"]').click();
    await ana.page.getByTestId('invite-dialog').waitFor({ state: 'detached' });

    // Ben gets channel:joined live, without a reload.
    await channelItem(ben.page, PRIVATE).waitFor();
    await send(ana.page, 'Private room for the launch. Draft is due Friday.');
    await openChannel(ben.page, PRIVATE);
    await message(ben.page, 'Private room for the launch. Draft is due Friday.').waitFor();
    await send(ben.page, 'On it, I will take the checklist.');
    await message(ana.page, 'On it, I will take the checklist.').waitFor();
  }));

  it('Ben opens a DM with Ana and they exchange messages', () => step('dm', async () => {
    await ben.page.getByTestId('new-dm').click();
    await ben.page.getByTestId('user-search-input').fill('an');
    await ben.page.locator('[data-testid="user-result"][data-username="ana"]').click();
    await ben.page.locator('[data-testid="channel-title"]', { hasText: 'Ana Lima' }).waitFor();
    await send(ben.page, 'Quick one: can you review my slides tonight?');

    const dm = channelItem(ana.page, 'Ben Okafor');
    await dm.waitFor();
    await dm.getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
    await openChannel(ana.page, 'Ben Okafor');
    await message(ana.page, 'Quick one: can you review my slides tonight?').waitFor();
    await send(ana.page, 'Sure, send them over 👍');
    await message(ben.page, 'Sure, send them over 👍').waitFor();
    await dm.getByTestId('unread-badge').waitFor({ state: 'detached' });
  }));

  it('HTML in a message body is shown literally, never run', () => step('xss', async () => {
    await openChannel(ana.page, 'general');
    await send(ana.page, XSS);
    await openChannel(ben.page, 'general');
    for (const u of [ana, ben]) {
      await message(u.page, XSS).waitFor();
      assert.equal(await message(u.page, XSS).getByTestId('message-body').textContent(), XSS);
      assert.equal(await u.page.locator('[data-testid="message-list"] img[src="x"]').count(), 0);
      assert.equal(await u.page.locator('[data-testid="message-list"] img').count(), 0);
      assert.deepEqual(u.events.dialogs, [], 'no dialog fired');
    }
  }));

  it('history is still there after a reload', () => step('reload', async () => {
    await ana.page.reload();
    await waitConnected(ana.page);
    await openChannel(ana.page, 'general');
    await message(ana.page, 'Hi Ben, welcome to Banter!').waitFor();
    await message(ana.page, 'Thanks Ana, glad to be here. Shall we plan the launch?').waitFor();
    await message(ana.page, XSS).waitFor();
    await openChannel(ana.page, PRIVATE);
    await message(ana.page, 'Private room for the launch. Draft is due Friday.').waitFor();
    await message(ana.page, 'On it, I will take the checklist.').waitFor();
    assert.deepEqual(ana.events.dialogs, []);
  }));

  it('a user who is not a member cannot see the private channel', () => step('outsider', async () => {
    const cat = await open();
    await signUp(cat.page, CAT);
    await channelItem(cat.page, 'general').waitFor();
    assert.equal(await channelItem(cat.page, PRIVATE).count(), 0);
    await cat.page.getByTestId('browse-channels').click();
    await cat.page.getByTestId('browse-list').locator('[data-testid="browse-join"]').first().waitFor();
    assert.equal(await cat.page.locator(`[data-testid="browse-join"][data-channel-name="${PRIVATE}"]`).count(), 0);
    await cat.page.getByTestId('dialog-close').click();
    const privateId = await channelItem(ana.page, PRIVATE).getAttribute('data-channel-id');
    const status = await cat.page.evaluate(async (id) => (await fetch(`/api/messages/${id}`)).status, privateId);
    assert.equal(status, 404);
  }));

  it('screenshots at 1280×800 and 360×640 show the conversation', () => step('screens', async () => {
    await openChannel(ana.page, 'general');
    await message(ana.page, XSS).waitFor();
    await screenshot(ana.page, 'desktop-1280x800.png');

    const phone = await open({ viewport: { width: 360, height: 640 }, mobile: true });
    await logIn(phone.page, BEN);
    await openChannel(phone.page, PRIVATE);
    await message(phone.page, 'On it, I will take the checklist.').waitFor();
    await send(phone.page, 'Checklist is in the doc, see you Friday!');
    // Ana is in #general: the private channel shows one unread message live.
    await channelItem(ana.page, PRIVATE).getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
    // The composer stays on screen and the drawer is closed.
    const box = await phone.page.getByTestId('composer-input').boundingBox();
    assert.ok(box && box.y + box.height <= 640, 'composer visible at 360×640');
    await phone.page.getByTestId('sidebar').waitFor({ state: 'hidden' }); // drawer slid away
    await screenshot(phone.page, 'mobile-360x640.png');
    await phone.page.getByTestId('menu-toggle').click();
    await phone.page.getByTestId('sidebar').waitFor({ state: 'visible' });
    await channelItem(phone.page, 'general').waitFor({ state: 'visible' });
    await phone.page.waitForTimeout(300); // let the drawer finish sliding in
    await screenshot(phone.page, 'mobile-360x640-drawer.png');
  }));

  it('log out returns to the log-in screen and ends the session', () => step('logout', async () => {
    await ana.page.getByTestId('logout').click();
    await ana.page.getByTestId('auth-form').waitFor();
    await ana.page.reload();
    await ana.page.getByTestId('auth-form').waitFor();
    const status = await ana.page.evaluate(async () => (await fetch('/api/users/me')).status);
    assert.equal(status, 401);
    for (const u of users) {
      assert.deepEqual(u.events.pageErrors, [], 'no uncaught page errors');
      assert.deepEqual(u.events.dialogs, [], 'no dialogs');
      const csp = u.events.consoleErrors.filter((m) => /Content.Security.Policy/i.test(m));
      assert.deepEqual(csp, [], 'no Content-Security-Policy violations');
    }
  }));
});

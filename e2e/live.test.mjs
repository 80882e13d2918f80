// Browser end-to-end test of live conversation state (issue #3): the real server binary, the
// embedded web client, system Chromium, two users in two browser contexts.
//
// - Typing: "Ana Lima is typing…" shows in Ben's browser while she types, and clears when she
//   empties the composer and when she sends; typing:start goes out at most every 2 s.
// - Ticks: Ana's DM message shows ✓ while Ben is offline, ✓✓ once his browser has it, blue
//   ✓✓ once he opens the DM; tapping the ticks lists him as having read it.
// - Unread: a message in a channel Ben has not open shows a badge (and @ for a mention) in
//   both of his tabs; opening it in one shows "New messages" above the first unread and clears
//   the badge in both.
// - Reactions, edits, deletes and replies show live in the other browser.
// - Presence: Ana's dot in Ben's DM list follows her (online, do not disturb, away when her tab
//   is hidden, offline with "last seen" once she is gone).
// - Screenshots at 1280×800 and 360×640 land in docs/screenshots/live-*.png.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, CHEAP_PASSWORD_HASHING, repoRoot } from './lib/server.mjs';
import {
  launch, openUser, newPage, signUp, logIn, waitConnected, waitConn, channelItem, openChannel, send,
  message, screenshot, artifactsDir, recordFrames,
} from './lib/browser.mjs';

const PASSWORD = 'correct horse battery';
const ANA = { username: 'ana', password: PASSWORD, displayName: 'Ana Lima' };
const BEN = { username: 'ben', password: PASSWORD, displayName: 'Ben Okafor' };
const shotsDir = path.join(repoRoot, 'docs', 'screenshots');

/** The ticks of one of my messages. */
const ticks = (page, text) => message(page, text, { committed: true }).getByTestId('message-ticks');

/** Waits until the ticks of my message `text` say `state` (sent, delivered or read). */
async function waitTicks(page, text, state, timeout = 10000) {
  await message(page, text, { committed: true })
    .locator(`[data-testid="message-ticks"][data-receipt="${state}"]`).waitFor({ timeout });
}

/** Opens the ⋯ menu of a message (hover shows the tools). */
async function openMenu(page, text) {
  const msg = message(page, text, { committed: true });
  await msg.hover();
  await msg.getByTestId('message-menu-button').click();
  await page.getByTestId('message-menu').waitFor();
}

/** The typing line's text in the open conversation. */
const typingText = (page) => page.getByTestId('typing-indicator').innerText();

/** Posts over REST as the page's user; returns the parsed JSON answer. */
function rest(page, method, url, body) {
  return page.evaluate(async ({ method, url, body }) => {
    const res = await fetch(url, {
      method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }, { method, url, body });
}

/**
 * Holds a finger on `locator` for `holdMs` (real touch events through the DevTools protocol).
 * Chromium turns a hold shorter than its long-press time (1 s here) into a tap on the lift.
 */
async function longPress(u, locator, holdMs = 650) {
  const box = await locator.boundingBox();
  const cdp = await u.context.newCDPSession(u.page);
  const point = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [point] });
  await u.page.waitForTimeout(holdMs);
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.detach();
}

/** Makes the page believe its tab was hidden (or shown again). */
function setHidden(page, hidden) {
  return page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { value: h ? 'hidden' : 'visible', configurable: true });
    Object.defineProperty(document, 'hidden', { value: h, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

describe('Live conversation state', { timeout: 150000 }, () => {
  let server;
  let browser;
  let ana;
  let ben;
  let anaFrames;
  const users = [];

  before(async () => {
    fs.mkdirSync(artifactsDir, { recursive: true });
    fs.mkdirSync(shotsDir, { recursive: true });
    for (const f of fs.readdirSync(artifactsDir)) {
      if (f.startsWith('failure-live-')) fs.rmSync(path.join(artifactsDir, f));
    }
    // A short presence grace period, so "offline" shows within the test.
    server = await startServer({ env: { ...CHEAP_PASSWORD_HASHING, BANTER_PRESENCE_GRACE_MS: '400' } });
    browser = await launch();
  });

  after(async () => {
    for (const u of users) await u.context.close().catch(() => {});
    if (browser) await browser.close().catch(() => {});
    if (server) await server.stop();
  });

  async function step(name, fn) {
    try {
      await fn();
    } catch (e) {
      for (const [i, u] of users.entries()) {
        for (const [j, p] of u.context.pages().entries()) {
          await screenshot(p, `failure-live-${name}-${i}-${j}.png`).catch(() => {});
        }
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

  it('Ana and Ben sign up and talk in #general', () => step('setup', async () => {
    ana = await open();
    ben = await open();
    anaFrames = recordFrames(ana.page);
    await signUp(ana.page, ANA);
    await signUp(ben.page, BEN);
    await send(ana.page, 'Morning Ben!');
    await message(ben.page, 'Morning Ben!', { committed: true }).waitFor();
    await send(ben.page, 'Morning! Coffee first.');
    await message(ana.page, 'Morning! Coffee first.', { committed: true }).waitFor();
  }));

  it('typing shows in the other browser and clears on stop and on send', () => step('typing', async () => {
    const input = ana.page.getByTestId('composer-input');
    const indicator = ben.page.getByTestId('typing-indicator');
    const startsBefore = anaFrames.filter((f) => f.dir === 'out' && f.type === 'typing:start').length;
    await input.click();
    await input.pressSequentially('Just a sec', { delay: 20 });
    await indicator.filter({ hasText: 'Ana Lima is typing…' }).waitFor();
    const starts = anaFrames.filter((f) => f.dir === 'out' && f.type === 'typing:start').length - startsBefore;
    assert.equal(starts, 1, 'typing:start is throttled (one for a quick burst of keys)');

    // Emptying the composer stops it.
    await input.fill('');
    await indicator.filter({ hasText: /^$/ }).waitFor();
    assert.ok(anaFrames.some((f) => f.dir === 'out' && f.type === 'typing:stop'), 'typing:stop was sent');

    // Typing again, then sending, stops it too.
    await input.pressSequentially('Ready', { delay: 20 });
    await indicator.filter({ hasText: 'Ana Lima is typing…' }).waitFor();
    await input.press('Enter');
    await message(ben.page, 'Ready', { committed: true }).waitFor();
    await indicator.filter({ hasText: /^$/ }).waitFor();
    assert.equal(await typingText(ben.page), '');
  }));

  it('ticks: ✓ sent, ✓✓ delivered, blue ✓✓ read when Ben opens the DM', () => step('ticks', async () => {
    // Ben opens a DM with Ana and says hello; both go back to #general.
    await ben.page.getByTestId('new-dm').click();
    await ben.page.getByTestId('user-search-input').fill('an');
    await ben.page.locator('[data-testid="user-result"][data-username="ana"]').click();
    await ben.page.locator('[data-testid="channel-title"]', { hasText: 'Ana Lima' }).waitFor();
    await send(ben.page, 'Got a minute later?');
    await openChannel(ben.page, 'general');
    await openChannel(ana.page, 'Ben Okafor');
    await message(ana.page, 'Got a minute later?').waitFor();

    // Ben's browser is offline: Ana's message is only sent (✓).
    await ben.context.setOffline(true);
    await waitConn(ben.page, 'offline');
    const text = 'Sure, after lunch?';
    await send(ana.page, text);
    await waitTicks(ana.page, text, 'sent');
    await ana.page.waitForTimeout(700); // longer than the server's receipt flush
    assert.equal(await ticks(ana.page, text).getAttribute('data-receipt'), 'sent', 'not delivered while Ben is offline');

    // Back online, Ben's browser has it (and a badge): ✓✓.
    await ben.context.setOffline(false);
    await waitConnected(ben.page);
    await channelItem(ben.page, 'Ana Lima').getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
    await waitTicks(ana.page, text, 'delivered');

    // Ben opens the DM and sees it: blue ✓✓.
    await openChannel(ben.page, 'Ana Lima');
    await message(ben.page, text, { committed: true }).waitFor();
    await waitTicks(ana.page, text, 'read');
    await channelItem(ben.page, 'Ana Lima').getByTestId('unread-badge').waitFor({ state: 'detached' });

    // Tapping the ticks says who read it.
    await ticks(ana.page, text).click();
    const dialog = ana.page.getByTestId('receipts-dialog');
    await dialog.locator('[data-testid="receipt-row"][data-username="ben"][data-state="read"]').waitFor();
    assert.match(await dialog.getByTestId('receipts-summary').innerText(), /Read by 1 of 1/);
    await screenshot(ana.page, 'live-receipts-1280x800.png');
    await dialog.getByTestId('dialog-close').click();
    await dialog.waitFor({ state: 'detached' });
  }));

  it('unread and mention badges; opening clears them on every tab of the reader', () => step('unread', async () => {
    // Ana creates #random; Ben joins it. Both of Ben's tabs stay in #general.
    const random = await rest(ana.page, 'POST', '/api/channels', { name: 'random', kind: 'public' });
    await rest(ben.page, 'POST', `/api/channels/${random.id}/join`);
    await channelItem(ana.page, 'random').waitFor();
    await openChannel(ben.page, 'general');
    const tab2 = await newPage(ben.context, server.base, ben.events);
    await waitConnected(tab2);
    await channelItem(tab2, 'random').waitFor();
    await channelItem(ben.page, 'random').waitFor();

    await openChannel(ana.page, 'random');
    await send(ana.page, 'Anyone up for a walk?');
    await send(ana.page, '@ben you in?');
    for (const page of [ben.page, tab2]) {
      const item = channelItem(page, 'random');
      await item.getByTestId('unread-badge').filter({ hasText: '2' }).waitFor();
      await item.getByTestId('mention-badge').waitFor();
    }

    // Ben opens it in his first tab: "New messages" above the first unread one.
    await openChannel(ben.page, 'random');
    await message(ben.page, '@ben you in?', { committed: true }).waitFor();
    const divider = ben.page.getByTestId('unread-divider');
    await divider.waitFor();
    const next = await divider.evaluate((d) => d.nextElementSibling && d.nextElementSibling.dataset.testid === 'message'
      && d.nextElementSibling.querySelector('[data-testid="message-body"]').textContent);
    assert.equal(next, 'Anyone up for a walk?', 'the divider sits right above the first unread message');
    // Read here: the badges go in both tabs (channel:unread).
    for (const page of [ben.page, tab2]) {
      const item = channelItem(page, 'random');
      await item.getByTestId('unread-badge').waitFor({ state: 'detached' });
      await item.getByTestId('mention-badge').waitFor({ state: 'detached' });
    }
    await tab2.close();
  }));

  it('a reaction added in one browser shows in the other; chips toggle', () => step('reactions', async () => {
    const text = 'Pizza for lunch?';
    await send(ben.page, text); // both are in #random
    await message(ana.page, text, { committed: true }).waitFor();

    // Ana reacts from the hover tools.
    const onAna = message(ana.page, text, { committed: true });
    await onAna.hover();
    await onAna.getByTestId('message-react-button').click();
    await ana.page.getByTestId('reaction-picker').locator('[data-emoji="👍"]').click();
    const chip = (page) => message(page, text, { committed: true }).locator('[data-testid="reaction"][data-emoji="👍"]');
    await chip(ben.page).filter({ hasText: '1' }).waitFor();
    assert.equal(await chip(ben.page).getAttribute('data-me'), 'false');
    await chip(ana.page).and(ana.page.locator('[data-me="true"]')).waitFor();

    // Ben taps the chip: 2, and his is highlighted.
    await chip(ben.page).click();
    await chip(ana.page).filter({ hasText: '2' }).waitFor();
    await chip(ben.page).and(ben.page.locator('[data-me="true"]')).filter({ hasText: '2' }).waitFor();

    // Ana takes hers back; a second emoji from Ben's menu.
    await chip(ana.page).click();
    await chip(ben.page).filter({ hasText: '1' }).waitFor();
    await chip(ana.page).and(ana.page.locator('[data-me="false"]')).filter({ hasText: '1' }).waitFor();
    await openMenu(ben.page, text);
    await ben.page.getByTestId('message-menu').locator('[data-emoji="🎉"]').click();
    await message(ana.page, text, { committed: true }).locator('[data-testid="reaction"][data-emoji="🎉"]').waitFor();
  }));

  it('edit and delete show live in the other browser', () => step('edit-delete', async () => {
    await send(ana.page, 'Meeting at 3');
    await message(ben.page, 'Meeting at 3', { committed: true }).waitFor();

    // Ben cannot edit or delete Ana's message (he is a plain member).
    await openMenu(ben.page, 'Meeting at 3');
    const benMenu = ben.page.getByTestId('message-menu');
    assert.equal(await benMenu.getByTestId('menu-edit').count(), 0);
    assert.equal(await benMenu.getByTestId('menu-delete').count(), 0);
    await ben.page.keyboard.press('Escape');
    await benMenu.waitFor({ state: 'detached' });

    // Ana edits it in the composer.
    await openMenu(ana.page, 'Meeting at 3');
    await screenshot(ana.page, 'live-menu-1280x800.png');
    await ana.page.getByTestId('menu-edit').click();
    const input = ana.page.getByTestId('composer-input');
    await ana.page.getByTestId('composer-context').filter({ hasText: 'Editing message' }).waitFor();
    assert.equal(await input.inputValue(), 'Meeting at 3');
    await input.fill('Meeting at 4, room B');
    await screenshot(ana.page, 'live-editing-1280x800.png');
    await input.press('Enter');
    const edited = message(ben.page, 'Meeting at 4, room B', { committed: true });
    await edited.getByTestId('message-edited').waitFor();
    await message(ana.page, 'Meeting at 4, room B', { committed: true }).getByTestId('message-edited').waitFor();
    assert.equal(await message(ben.page, 'Meeting at 3').count(), 0, 'the old text is gone');
    assert.equal(await input.inputValue(), '', 'the composer is empty again');

    // Ana deletes it: a tombstone on both sides.
    const seq = await edited.getAttribute('data-seq');
    await openMenu(ana.page, 'Meeting at 4, room B');
    await ana.page.getByTestId('menu-delete').click();
    await ana.page.getByTestId('confirm-yes').click();
    for (const page of [ben.page, ana.page]) {
      const tomb = page.locator(`[data-testid="message"][data-seq="${seq}"][data-deleted="true"]`);
      await tomb.waitFor();
      assert.equal(await tomb.getByTestId('message-body').innerText(), 'This message was deleted');
      assert.equal(await tomb.getByTestId('message-menu-button').count(), 0, 'no actions on a tombstone');
    }
    assert.equal(await message(ben.page, 'Meeting at 4, room B').count(), 0);
    await screenshot(ben.page, 'live-deleted-1280x800.png');
  }));

  it('a reply shows the quote; tapping it goes to the original', () => step('reply', async () => {
    const original = 'Who is bringing the cake on Friday?';
    await send(ben.page, original);
    await message(ana.page, original, { committed: true }).waitFor();

    const onAna = message(ana.page, original, { committed: true });
    await onAna.hover();
    await onAna.getByTestId('message-reply-button').click();
    const ctx = ana.page.getByTestId('composer-context');
    await ctx.filter({ hasText: 'Replying to Ben Okafor' }).waitFor();
    assert.equal(await ctx.getByTestId('composer-context-quote').innerText(), original);
    // ✕ cancels; Reply again and send.
    await ctx.getByTestId('composer-context-cancel').click();
    await ctx.waitFor({ state: 'hidden' });
    await onAna.hover();
    await onAna.getByTestId('message-reply-button').click();
    await ctx.waitFor();
    await onAna.hover();
    await screenshot(ana.page, 'live-replying-1280x800.png');
    await send(ana.page, 'I will, chocolate!');
    await ctx.waitFor({ state: 'hidden' });

    for (const page of [ana.page, ben.page]) {
      const reply = message(page, 'I will, chocolate!', { committed: true });
      await reply.getByTestId('reply-quote').waitFor();
      assert.equal(await reply.getByTestId('reply-quote-author').innerText(), 'Ben Okafor');
      assert.equal(await reply.getByTestId('reply-quote-text').innerText(), original);
    }
    // Tapping the quote scrolls to (and flashes) the original.
    const onBen = message(ben.page, original, { committed: true });
    await ben.page.getByTestId('message-list').evaluate((l) => { l.scrollTop = l.scrollHeight; });
    await message(ben.page, 'I will, chocolate!', { committed: true }).getByTestId('reply-quote').click();
    await onBen.and(ben.page.locator('.flash')).waitFor();
    // The reply carries reply_to on the wire.
    const sent = anaFrames.find((f) => f.dir === 'out' && f.type === 'message:send' && f.data.body === 'I will, chocolate!');
    assert.ok(sent && sent.data.reply_to, 'message:send carried reply_to');
  }));

  it('presence: online, do not disturb, away when hidden, offline with last seen', () => step('presence', async () => {
    await openChannel(ben.page, 'general');
    const dot = channelItem(ben.page, 'Ana Lima').getByTestId('presence');
    await dot.and(ben.page.locator('[data-status="online"]')).waitFor();

    await ana.page.getByTestId('status-toggle').click();
    await dot.and(ben.page.locator('[data-status="dnd"]')).waitFor();
    await ana.page.getByTestId('status-toggle').click();
    await dot.and(ben.page.locator('[data-status="online"]')).waitFor();

    await setHidden(ana.page, true);
    await dot.and(ben.page.locator('[data-status="away"]')).waitFor();
    await setHidden(ana.page, false);
    await dot.and(ben.page.locator('[data-status="online"]')).waitFor();
    assert.ok(anaFrames.some((f) => f.dir === 'out' && f.type === 'presence:update' && f.data.status === 'away'));

    // Ana goes offline (her browser loses the network): offline, and "last seen" in the DM.
    await ana.context.setOffline(true);
    await dot.and(ben.page.locator('[data-status="offline"]')).waitFor({ timeout: 20000 });
    await openChannel(ben.page, 'Ana Lima');
    await ben.page.getByTestId('channel-topic').filter({ hasText: /last seen/ }).waitFor();
    await ana.context.setOffline(false);
    await waitConnected(ana.page);
    await dot.and(ben.page.locator('[data-status="online"]')).waitFor({ timeout: 15000 });
    await ben.page.getByTestId('channel-topic').filter({ hasText: /^Online/ }).waitFor();
  }));

  it('screenshots at 1280×800 and 360×640: ticks, reactions, a reply, typing and badges', () => step('screens', async () => {
    // A short conversation in the DM with everything on screen.
    await openChannel(ana.page, 'Ben Okafor');
    await openChannel(ben.page, 'Ana Lima');
    await send(ana.page, 'Slides are in the shared folder, v3 is the latest 📎');
    await send(ben.page, 'Great, reading them now');
    const q = 'Can you check slide 7? The numbers look off.';
    await send(ana.page, q);
    const onBen = message(ben.page, q, { committed: true });
    await onBen.waitFor();
    await onBen.hover();
    await onBen.getByTestId('message-react-button').click();
    await ben.page.getByTestId('reaction-picker').locator('[data-emoji="👀"]').click();
    await onBen.hover();
    await onBen.getByTestId('message-reply-button').click();
    await send(ben.page, 'Good catch, Q3 should be 1.2M. Fixing it.');
    const last = message(ana.page, 'Good catch, Q3 should be 1.2M. Fixing it.', { committed: true });
    await last.waitFor();
    await last.hover();
    await last.getByTestId('message-react-button').click();
    await ana.page.getByTestId('reaction-picker').locator('[data-emoji="🙏"]').click();
    await waitTicks(ana.page, q, 'read');
    // Something unread elsewhere for Ana (with a mention), and Ben typing.
    await rest(ben.page, 'POST', '/api/messages', {
      channel_id: await channelItem(ben.page, 'random').getAttribute('data-channel-id'),
      body: '@ana did you book the room?', client_id: `shot-${Date.now()}`,
    });
    await channelItem(ana.page, 'random').getByTestId('mention-badge').waitFor();
    const input = ben.page.getByTestId('composer-input');
    await input.click();
    await input.pressSequentially('Also', { delay: 30 });
    await ana.page.getByTestId('typing-indicator').filter({ hasText: 'Ben Okafor is typing…' }).waitFor();
    await ana.page.mouse.move(5, 790); // no hover tools in the picture
    await ana.page.waitForTimeout(300);
    await ana.page.screenshot({ path: path.join(shotsDir, 'live-1280x800.png') });

    // Ben on a phone (a second device): the same DM at 360×640, and his drawer with badges.
    const phone = await open({ viewport: { width: 360, height: 640 }, mobile: true });
    await logIn(phone.page, BEN);
    await openChannel(phone.page, 'Ana Lima');
    await message(phone.page, 'Good catch, Q3 should be 1.2M. Fixing it.', { committed: true }).waitFor();
    await waitTicks(phone.page, 'Good catch, Q3 should be 1.2M. Fixing it.', 'read');
    const aInput = ana.page.getByTestId('composer-input');
    await aInput.click();
    await aInput.pressSequentially('Thanks', { delay: 30 });
    await phone.page.getByTestId('typing-indicator').filter({ hasText: 'Ana Lima is typing…' }).waitFor();
    await phone.page.waitForTimeout(300);
    await phone.page.screenshot({ path: path.join(shotsDir, 'live-360x640.png') });
    // A long press opens the menu as a bottom sheet. Held for 950 ms: the menu opens at 480 ms
    // and the lift's tap lands on its backdrop 470 ms later, which must not close it.
    await longPress(phone, message(phone.page, q, { committed: true }).locator('.bubble'), 950);
    await phone.page.getByTestId('message-menu').waitFor();
    await phone.page.waitForTimeout(400);
    assert.ok(await phone.page.getByTestId('message-menu').isVisible(), 'the menu stays open after the finger lifts');
    await phone.page.screenshot({ path: path.join(shotsDir, 'live-360x640-menu.png') });
    // A tap on the backdrop after the lift is a choice: it closes the sheet.
    await phone.page.touchscreen.tap(180, 40);
    await phone.page.getByTestId('message-menu').waitFor({ state: 'detached' });
    // The drawer, with the unread and mention badges (Ana posts in #random).
    await rest(ana.page, 'POST', '/api/messages', {
      channel_id: await channelItem(ana.page, 'random').getAttribute('data-channel-id'),
      body: '@ben room 4 is booked', client_id: `shot-${Date.now()}`,
    });
    await phone.page.getByTestId('menu-toggle').click();
    await channelItem(phone.page, 'random').getByTestId('mention-badge').waitFor();
    await phone.page.waitForTimeout(350);
    await phone.page.screenshot({ path: path.join(shotsDir, 'live-360x640-drawer.png') });
    await ana.page.getByTestId('composer-input').fill('');
    await ben.page.getByTestId('composer-input').fill('');

    for (const u of users) {
      assert.deepEqual(u.events.pageErrors, [], 'no uncaught page errors');
      assert.deepEqual(u.events.dialogs, [], 'no dialogs');
      const csp = u.events.consoleErrors.filter((m) => /Content.Security.Policy/i.test(m));
      assert.deepEqual(csp, [], 'no Content-Security-Policy violations');
    }
  }));
});

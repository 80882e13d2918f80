// Chromium via playwright-core, always the system browser (never a downloaded one), plus
// helpers for driving the Banter UI as a person would.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const artifactsDir = path.resolve(here, '..', 'artifacts');

export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Opens a fresh browser context (its own cookie jar) on the app. Records dialogs (alert etc.),
 * page errors and console errors so the test can assert none happened.
 */
export async function openUser(browser, base, { viewport = { width: 1280, height: 800 }, mobile = false } = {}) {
  const context = await browser.newContext({
    viewport,
    deviceScaleFactor: 1,
    isMobile: mobile,
    hasTouch: mobile,
    serviceWorkers: 'block', // keep each run hermetic; sw.js is exercised separately
  });
  const events = { dialogs: [], pageErrors: [], consoleErrors: [] };
  const page = await newPage(context, base, events);
  return { context, page, events };
}

/**
 * Opens another page in an existing context (same cookies, same IndexedDB) on the app,
 * recording into `events` like openUser does.
 */
export async function newPage(context, base, events) {
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.on('dialog', (d) => {
    events.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => events.pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') events.consoleErrors.push(m.text());
  });
  await page.goto(base);
  return page;
}

/** Signs up through the UI and waits until the chat shell is connected. */
export async function signUp(page, { username, password, displayName, email }) {
  await page.getByTestId('auth-tab-signup').click();
  await page.getByTestId('auth-username').fill(username);
  await page.getByTestId('auth-password').fill(password);
  if (displayName) await page.getByTestId('auth-display-name').fill(displayName);
  if (email) await page.getByTestId('auth-email').fill(email);
  await page.getByTestId('auth-submit').click();
  await waitConnected(page);
}

export async function logIn(page, { username, password }) {
  await page.getByTestId('auth-tab-login').click();
  await page.getByTestId('auth-username').fill(username);
  await page.getByTestId('auth-password').fill(password);
  await page.getByTestId('auth-submit').click();
  await waitConnected(page);
}

/** Waits until the gateway is connected AND resumed (the indicator leaves "Syncing…"). */
export async function waitConnected(page) {
  await waitConn(page, 'connected');
}

/** Waits for a connection state: connecting, syncing, connected, reconnecting or offline. */
export async function waitConn(page, state) {
  await page.locator(`[data-testid="conn-status"][data-state="${state}"]`).waitFor({ state: 'attached' });
}

/** The sidebar entry of a channel or DM by its shown name. */
export function channelItem(page, name) {
  return page.locator(`[data-testid="channel-item"][data-channel-name="${name}"]`);
}

/** Opens a conversation from the sidebar (through the drawer on narrow screens). */
export async function openChannel(page, name) {
  const toggle = page.getByTestId('menu-toggle');
  if (await toggle.isVisible()) await toggle.click();
  await channelItem(page, name).click();
  await page.locator(`[data-testid="channel-title"]`, { hasText: name }).waitFor();
}

/** Types and sends a message with Enter, then waits until the server confirmed it (has a seq). */
export async function send(page, text) {
  const input = page.getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
  await message(page, text, { committed: true }).waitFor();
}

const escapeRe = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The last message in the open conversation whose body is exactly `text`. */
export function message(page, text, { committed = false } = {}) {
  const sel = committed ? '[data-testid="message"]:not([data-seq=""])' : '[data-testid="message"]';
  return page.getByTestId('message-list').locator(sel)
    .filter({ has: page.getByTestId('message-body').filter({ hasText: new RegExp(`^${escapeRe(text)}$`) }) })
    .last();
}

export async function screenshot(page, name) {
  fs.mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, name);
  await page.screenshot({ path: file });
  return file;
}

/** The bodies of the committed messages in the open conversation, in DOM order, with seqs. */
export function committed(page) {
  return page.locator('[data-testid="message-list"] [data-testid="message"]:not([data-seq=""])')
    .evaluateAll((els) => els.map((e) => ({
      seq: Number(e.dataset.seq),
      body: e.querySelector('[data-testid="message-body"]').textContent,
      state: e.dataset.state,
    })));
}

/** How many message bubbles (committed or pending) show exactly this body. */
export function countBody(page, text) {
  return page.locator('[data-testid="message-list"] [data-testid="message-body"]')
    .evaluateAll((els, t) => els.filter((e) => e.textContent === t).length, text);
}

/** The outbox records in the page's IndexedDB (database `banter`, store `outbox`). */
export function outboxRecords(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open('banter');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains('outbox')) {
        db.close();
        resolve([]);
        return;
      }
      const get = db.transaction('outbox').objectStore('outbox').getAll();
      get.onsuccess = () => {
        db.close();
        resolve(get.result);
      };
      get.onerror = () => reject(get.error);
    };
  }));
}

/**
 * Posts messages over REST as the page's signed-in user, one at a time, in order. A 429
 * `rate_limited` answer is waited out (`retry_after_ms`) and the SAME send (same client_id)
 * retried.
 */
export function postMessages(page, channelId, bodies) {
  return page.evaluate(async ({ channelId, bodies }) => {
    for (const body of bodies) {
      const payload = JSON.stringify({ channel_id: channelId, body, client_id: crypto.randomUUID() });
      for (let attempt = 0; ; attempt++) {
        const res = await fetch('/api/messages', {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: payload,
        });
        if (res.status === 201) break;
        const text = await res.text();
        if (res.status !== 429 || attempt > 50) throw new Error(`POST /api/messages: ${res.status} ${text}`);
        const wait = (JSON.parse(text).error || {}).retry_after_ms || 100;
        await new Promise((r) => setTimeout(r, wait + 5));
      }
    }
  }, { channelId, bodies });
}

/** Every message of a channel over REST (paged with `after`), as the page's user. */
export function history(page, channelId) {
  return page.evaluate(async (id) => {
    const all = [];
    for (let after = 0; ;) {
      const res = await fetch(`/api/messages/${id}?after=${after}&limit=100`);
      const pageData = await res.json();
      all.push(...pageData.messages);
      if (!pageData.has_more || !pageData.messages.length) break;
      after = pageData.messages[pageData.messages.length - 1].seq;
    }
    return all.map((m) => ({ seq: m.seq, body: m.body, client_id: m.client_id }));
  }, channelId);
}

/**
 * Records the gateway frames of a page (both directions, parsed) from now on, for every
 * WebSocket it opens.
 */
export function recordFrames(page) {
  const frames = [];
  const parse = (dir) => ({ payload }) => {
    try {
      frames.push({ dir, ...JSON.parse(String(payload)) });
    } catch {
      /* not JSON */
    }
  };
  page.on('websocket', (ws) => {
    ws.on('framesent', parse('out'));
    ws.on('framereceived', parse('in'));
  });
  return frames;
}

/** Starts logging every connection state the sidebar indicator shows (read with connLog). */
export async function recordConn(page) {
  await page.evaluate(() => {
    const el = document.querySelector('[data-testid="conn-status"]');
    // Each record's old value, so states that changed twice within one task are all kept.
    window.__connOld = [];
    new MutationObserver((records) => {
      for (const r of records) window.__connOld.push(r.oldValue);
    }).observe(el, { attributes: true, attributeFilter: ['data-state'], attributeOldValue: true });
  });
}

/** Every state the indicator showed since recordConn, ending with the current one. */
export function connLog(page) {
  return page.evaluate(() => [
    ...(window.__connOld || []),
    document.querySelector('[data-testid="conn-status"]').dataset.state,
  ]);
}

/**
 * Scrolls the open conversation up a screen at a time, as a reader would, until the top is
 * reached and nothing is left to load (no loader, no gap marker).
 */
export async function scrollToTop(page, { maxSteps = 150 } = {}) {
  for (let i = 0; i < maxSteps; i++) {
    const done = await page.getByTestId('message-list').evaluate((list) => {
      list.scrollTop = Math.max(0, list.scrollTop - list.clientHeight * 0.8);
      return list.scrollTop === 0
        && !list.querySelector('[data-testid="history-gap"]')
        && !list.querySelector('[data-testid="history-loader"]');
    });
    if (done) return;
    await page.waitForTimeout(40);
  }
  throw new Error('scrollToTop: history did not finish loading');
}

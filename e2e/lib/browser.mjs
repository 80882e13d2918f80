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
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const events = { dialogs: [], pageErrors: [], consoleErrors: [] };
  page.on('dialog', (d) => {
    events.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => events.pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') events.consoleErrors.push(m.text());
  });
  await page.goto(base);
  return { context, page, events };
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

export async function waitConnected(page) {
  await page.locator('[data-testid="conn-status"][data-state="connected"]').waitFor({ state: 'attached' });
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

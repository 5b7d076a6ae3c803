// A tiny browser-test runner on playwright-core and Debian's Chromium (no browser download).
//
//   import { test, run, poll } from './harness.mjs';
//   test('name', async ({ page, context, newContext, baseURL, log }) => { ... });
//   test('no js', { contextOptions: { javaScriptEnabled: false } }, async ({ page }) => { ... });
//   await run();
//
// Tests run one after another, each in a fresh browser context (viewport 1280x800, baseURL from
// FORECOURT_URL) with a per-test timeout. Prints `ok - name` / `not ok - name` and the error; on a
// failure saves a full-page screenshot of each page the test opened to
// $SCREENSHOT_DIR/<test-name>.png (…-2.png for a second page) and their console messages to
// <test-name>.console.txt. Ends with `N passed, M failed` and exits 1 on any failure.
//
// Environment: FORECOURT_URL (default http://127.0.0.1:8080), SCREENSHOT_DIR (default
// ./screenshots), CHROMIUM (default /usr/bin/chromium), TEST_FILTER (substring of the names to
// run), TEST_TIMEOUT_MS (default 60000), HEADED=1 (debugging on a desktop).

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const tests = [];

// A wait a test left behind rejects once its context is closed; that must not end the run.
process.on('unhandledRejection', (e) => {
  console.log(`# (a wait left over from a finished test ended: ${String(e?.message || e).split('\n')[0]})`);
});

export const baseURL = (process.env.FORECOURT_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const screenshotDir = process.env.SCREENSHOT_DIR || path.resolve('screenshots');
const testTimeout = Number(process.env.TEST_TIMEOUT_MS || 60_000);
// Default for each locator action and wait; a test can pass its own `timeout` for slower steps.
const actionTimeout = 10_000;

/** Registers a test: `test(name, fn)` or `test(name, { contextOptions }, fn)`. */
export function test(name, opts, fn) {
  if (typeof opts === 'function') [opts, fn] = [{}, opts];
  tests.push({ name, opts: opts || {}, fn });
}

/** Throws `message` unless `cond`. */
export function check(cond, message) {
  if (!cond) throw new Error(message);
}

/**
 * Polls `fn` until it returns a truthy value (returned) or throws no more; on timeout throws
 * `message` with the last value or error. The expect-style wait for what a locator cannot say.
 */
export async function poll(fn, { timeout = actionTimeout, interval = 100, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      lastErr = undefined;
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= end) {
      const why = lastErr ? `last error: ${lastErr.message}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${message} (${why})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

function slug(name) {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80) || 'test';
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: !process.env.HEADED,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'].filter(
      (a) => !(process.env.HEADED && a === '--headless'),
    ),
  });
}

async function runOne(browser, t) {
  const contexts = [];
  const pages = []; // { page, console: [] }
  const newContext = async (options = {}) => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      baseURL,
      ...options,
    });
    context.setDefaultTimeout(actionTimeout);
    context.on('page', (page) => {
      const entry = { page, console: [] };
      pages.push(entry);
      page.on('console', (m) => m.type() !== 'verbose' && entry.console.push(`[${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => entry.console.push(`[pageerror] ${e.message}`));
      page.on('requestfailed', (r) => entry.console.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
      // A native confirm()/alert() would block the page; accept it and keep a note.
      page.on('dialog', async (d) => {
        entry.console.push(`[dialog ${d.type()}] ${d.message()}`);
        await d.accept().catch(() => {});
      });
    });
    contexts.push(context);
    return context;
  };
  let finished = false; // a test body still running after its timeout logs nothing more
  const log = (...args) => finished || console.log('#', ...args);

  let timer;
  const started = Date.now();
  try {
    const context = await newContext(t.opts.contextOptions);
    const page = await context.newPage();
    const body = t.fn({ page, context, newContext, baseURL, log });
    body.catch(() => {}); // it may still reject after a timeout, once its contexts are closed
    await Promise.race([
      body,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`test timed out after ${testTimeout} ms`)), testTimeout);
      }),
    ]);
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    finished = true;
    const saved = await saveEvidence(t.name, pages).catch((e) => [`(evidence not saved: ${e.message})`]);
    return { ok: false, error, saved, pages, ms: Date.now() - started };
  } finally {
    finished = true;
    clearTimeout(timer);
    for (const c of contexts) await c.close().catch(() => {});
  }
}

async function saveEvidence(name, pages) {
  await mkdir(screenshotDir, { recursive: true });
  const base = slug(name);
  const saved = [];
  const consoleText = [];
  for (const [i, { page, console: lines }] of pages.entries()) {
    const suffix = i === 0 ? '' : `-${i + 1}`;
    const file = path.join(screenshotDir, `${base}${suffix}.png`);
    const url = page.isClosed() ? '(closed)' : page.url();
    if (!page.isClosed()) {
      try {
        await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
        saved.push(file);
      } catch (e) {
        saved.push(`(screenshot of ${url} failed: ${e.message.split('\n')[0]})`);
      }
    }
    consoleText.push(`== page ${i + 1}: ${url}`, ...lines, '');
  }
  const consoleFile = path.join(screenshotDir, `${base}.console.txt`);
  await writeFile(consoleFile, consoleText.join('\n'));
  saved.push(consoleFile);
  return saved;
}

function indent(text) {
  return String(text)
    .split('\n')
    .map((l) => `#   ${l}`)
    .join('\n');
}

/** Runs the registered tests; exits the process with 0 when all passed, 1 otherwise. */
export async function run() {
  const filter = process.env.TEST_FILTER;
  const selected = filter ? tests.filter((t) => t.name.includes(filter)) : tests;
  console.log(`# ${selected.length} browser tests against ${baseURL}`);
  let browser;
  try {
    browser = await launch();
  } catch (e) {
    console.log(`not ok - launch Chromium\n${indent(e.stack || e.message)}`);
    console.log(`0 passed, ${selected.length || 1} failed`);
    process.exit(1);
  }
  console.log(`# Chromium ${browser.version()}`);
  let passed = 0;
  let failed = 0;
  for (const t of selected) {
    const r = await runOne(browser, t);
    if (r.ok) {
      passed++;
      console.log(`ok - ${t.name} (${r.ms} ms)`);
    } else {
      failed++;
      console.log(`not ok - ${t.name} (${r.ms} ms)`);
      console.log(indent(r.error?.stack || r.error));
      for (const f of r.saved || []) console.log(`#   saved: ${f}`);
      for (const [i, p] of (r.pages || []).entries()) {
        if (!p.console.length) continue;
        console.log(`#   console of page ${i + 1}:`);
        console.log(indent(p.console.slice(-40).join('\n')));
      }
    }
  }
  await browser.close().catch(() => {});
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

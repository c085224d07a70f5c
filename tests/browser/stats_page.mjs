// Drives headless Chromium against lbd's stats page (run by stats_page.sh).
//
// Opens STATS_URL with Basic credentials, waits until both servers show UP, kills the
// origin behind KILL_SERVER (pid KILL_PID, a process stats_page.sh started), and waits
// until that server's status cell turns DOWN without the page being reloaded: the
// document is the one first loaded (a marker set on `window` survives, no second
// navigation), and the update came through the page's EventSource. Saves a screenshot
// to SCREENSHOT. Every wait is bounded; exits non-zero on failure.
//
// Environment: CHROMIUM, STATS_URL, STATS_USER, STATS_PASS, KEEP_SERVER, KILL_SERVER,
// KILL_PID, SCREENSHOT, PROFILE_DIR (a fresh, empty directory for the browser profile).

import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing environment variable ${k}`);
  return v;
};

const cfg = {
  chromium: env('CHROMIUM'),
  url: env('STATS_URL'),
  user: env('STATS_USER'),
  pass: env('STATS_PASS'),
  keep: env('KEEP_SERVER'),
  kill: env('KILL_SERVER'),
  pid: Number(env('KILL_PID')),
  screenshot: env('SCREENSHOT'),
  profile: env('PROFILE_DIR'),
};

// The status cell of a server row (`<tr id="backend/server">…<td class="st">`).
const cell = (key) => `tr[id="${key}"] td.st`;

async function main() {
  const context = await chromium.launchPersistentContext(cfg.profile, {
    executablePath: cfg.chromium,
    headless: true,
    timeout: 30_000,
    httpCredentials: { username: cfg.user, password: cfg.pass },
    viewport: { width: 1280, height: 600 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    let navigations = 0;
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations += 1;
    });
    let events = 0;
    page.on('response', (r) => {
      if (r.url().endsWith(';events')) events += 1;
    });

    const resp = await page.goto(cfg.url, { waitUntil: 'domcontentloaded' });
    if (!resp || resp.status() !== 200) {
      throw new Error(`GET ${cfg.url}: status ${resp && resp.status()}`);
    }
    for (const key of [cfg.keep, cfg.kill]) {
      await page.waitForFunction(
        (sel) => document.querySelector(sel)?.textContent.startsWith('UP'),
        cell(key),
      );
    }
    // Wait for the live stream to deliver at least one update.
    await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'live');
    await page.evaluate(() => {
      window.__lbdMarker = 'first-load';
    });
    console.log(`both servers UP on ${cfg.url}; stopping the origin of ${cfg.kill} (pid ${cfg.pid})`);

    process.kill(cfg.pid, 'SIGTERM');
    const t0 = Date.now();
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent.startsWith('DOWN'),
      cell(cfg.kill),
      { timeout: 20_000 },
    );
    const took = Date.now() - t0;

    const state = await page.evaluate(
      ([keep, kill]) => ({
        marker: window.__lbdMarker,
        killRowClass: document.getElementById(kill)?.className,
        killCell: document.querySelector(`tr[id="${kill}"] td.st`)?.textContent,
        keepCell: document.querySelector(`tr[id="${keep}"] td.st`)?.textContent,
        killBg: getComputedStyle(document.querySelector(`tr[id="${kill}"] td.st`)).backgroundColor,
      }),
      [cfg.keep, cfg.kill],
    );
    // The page's frame: version, pid and uptime, a row per frontend, a totals row per
    // backend, bytes in and out, a legend.
    const frame = await page.evaluate(() => ({
      info: document.getElementById('info')?.textContent,
      feRow: document.querySelector('tr[id="fe/FRONTEND"] td.st')?.textContent,
      total: document.querySelector('tr[id="web/BACKEND"] td.n')?.textContent,
      heads: Array.from(document.querySelectorAll('th')).map((t) => t.textContent),
      legend: document.getElementById('legend')?.textContent,
    }));
    await page.screenshot({ path: cfg.screenshot, fullPage: true });

    const fail = [];
    if (state.marker !== 'first-load') fail.push('the page was reloaded (marker lost)');
    if (navigations !== 1) fail.push(`expected 1 navigation, saw ${navigations}`);
    if (events < 1) fail.push('the page never opened its ;events stream');
    if (state.killRowClass !== 'DOWN') fail.push(`row class of ${cfg.kill} is ${state.killRowClass}`);
    if (state.killBg !== 'rgb(255, 119, 119)') fail.push(`DOWN cell is not red: ${state.killBg}`);
    if (!state.keepCell?.startsWith('UP')) fail.push(`${cfg.keep} is ${state.keepCell}`);
    if (errors.length) fail.push(`page errors: ${errors.join('; ')}`);
    if (!/^lbd \d+\.\d+\.\d+, pid \d+, uptime /.test(frame.info || '')) fail.push(`info line: ${frame.info}`);
    if (frame.feRow !== 'OPEN') fail.push(`frontend row fe: ${frame.feRow}`);
    if (frame.total !== 'Total') fail.push(`totals row of web: ${frame.total}`);
    if (!frame.heads.includes('bytes in') || !frame.heads.includes('bytes out')) fail.push(`columns: ${frame.heads}`);
    if (!['UP', 'DOWN', 'DRAIN', 'MAINT'].every((w) => (frame.legend || '').includes(w))) fail.push(`legend: ${frame.legend}`);
    console.log(
      `${cfg.kill}: "${state.killCell}" after ${took} ms without reload; ${cfg.keep}: "${state.keepCell}"; screenshot ${cfg.screenshot}`,
    );
    if (fail.length) throw new Error(fail.join('\n'));
  } finally {
    await context.close();
  }
}

const watchdog = setTimeout(() => {
  console.error('FAIL: browser test exceeded 90 s');
  process.exit(1);
}, 90_000);

main()
  .then(() => {
    clearTimeout(watchdog);
  })
  .catch((e) => {
    console.error(`FAIL: ${e.stack || e}`);
    process.exit(1);
  });

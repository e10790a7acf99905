/** Debian's Chromium through playwright-core (shared with the benchmarks). */
export { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../../scripts/chromium.js';

/** `npm run fixtures [-- <folder>]`: writes the generated test fixtures (default tests/.generated). */
import { resolve } from 'node:path';
import { generateFixtures } from './fixtures/generate.js';

const out = resolve(process.argv[2] ?? 'tests/.generated');
const m = await generateFixtures(out, (s) => process.stdout.write(`${s}\n`));
process.stdout.write(`fixtures in ${out}: ${m.valid.length} slides, ${m.broken.length} broken files\n`);

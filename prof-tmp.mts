import { loadConfig } from './src/config/load.js';
import { loadComponents } from './src/config/components.js';
await loadComponents();
const t = Date.now();
const r = await loadConfig('/tmp/big/big5.yaml');
console.log(r.errors.length, Date.now() - t, process.memoryUsage().rss >> 20);

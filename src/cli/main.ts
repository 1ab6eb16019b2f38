/** Entry of the `cdc-fanout` command line (bin/cdc-fanout.js loads this). */
import { buildProgram } from './program.js';

await buildProgram().parseAsync(process.argv);

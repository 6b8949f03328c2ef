/** Entry of the `jobchart` command (bin/jobchart.js imports it): runs the command line and sets the exit code. */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});

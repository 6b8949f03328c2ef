/** `jobchart` command line: a skeleton until the runtime issue adds `node`, `schedule`, `job` and `status`. */
const USAGE = `usage: jobchart <command>

commands:
  help          show this help
  version       print the version
`;

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
    case '--version':
      process.stdout.write('jobchart 0.1.0\n');
      return 0;
    default:
      process.stderr.write(`jobchart: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));

import { CommanderError } from 'commander';
import { CliContext } from './context';
import { describeError } from './errors';
import { EXIT } from './exit-codes';
import { buildProgram } from './program';

async function main(argv: string[]): Promise<number> {
  let context: CliContext | undefined;
  const ctx = () => (context ??= new CliContext());
  try {
    await buildProgram(ctx).parseAsync(argv);
    return context?.exitCode ?? EXIT.ok;
  } catch (err) {
    // Commander has printed the usage problem (or the help that was asked for).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    process.stderr.write(`mlops: ${describeError(err)}\n`);
    return EXIT.error;
  } finally {
    await context?.close();
  }
}

/** A reader that went away (`mlops sql … | head`) is not a failure: stop quietly, as other CLIs do. */
function stopQuietlyWhenTheReaderLeaves(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

stopQuietlyWhenTheReaderLeaves(process.stdout);
stopQuietlyWhenTheReaderLeaves(process.stderr);
// Exit as soon as the command is done: a call still in flight (the long poll for a workflow result
// that a missing worker will never produce) would otherwise hold the process for its full timeout.
// Writes to pipes, files and terminals are synchronous here, so nothing printed is lost.
void main(process.argv).then((code) => process.exit(code));

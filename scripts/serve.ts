/**
 * What the scripts that run a server of ours share (npm run temporal, temporal:postgres, s3):
 * it runs until Ctrl-C or SIGTERM, then is stopped by its own stop(); a failure to start prints
 * its message alone (it says what to do) and exits 1.
 */
export async function serveUntilStopped(server: { stop(): Promise<void> }): Promise<never> {
  console.log('Ctrl-C to stop.');
  const stop = () => void server.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return new Promise<never>(() => undefined);
}

export function runScript(main: () => Promise<void>): void {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}

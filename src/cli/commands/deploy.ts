import type { Command } from 'commander';
import { DeploymentRefused, deploymentStatus, rampBuild, rollbackBuild, setCurrentBuild } from '../../client/deploy';
import type { CliContext } from '../context';
import { EXIT } from '../exit-codes';
import { printJson, printTable } from '../output';

/**
 * `mlops deploy`: ship new worker code without breaking what runs (docs/RELIABILITY.md,
 * "Shipping new worker code"). The deployment is MLOPS_DEPLOYMENT_NAME, the task queue
 * MLOPS_TASK_QUEUE, as for the workers.
 */
export function registerDeployCommands(program: Command, ctx: () => CliContext): void {
  const deploy = program.command('deploy').description('Worker builds: which one takes new work, what runs where, and the replay gate (MLOPS_DEPLOYMENT_NAME)');

  deploy
    .command('status')
    .description('Builds of the deployment: current, ramping, pollers, running workflows per build, replay check')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const c = ctx();
      const status = await deploymentStatus(await c.temporal(), c.config);
      if (opts.json) return printJson(status);
      const ramp = status.ramping ? `; ramping ${status.ramping.buildId} at ${status.ramping.percentage}%` : '';
      console.log(`deployment ${status.deployment} on task queue ${status.taskQueue}: current ${status.current ?? '(none: new work goes to unversioned workers)'}${ramp}`);
      printTable(
        status.versions.map((v) => ({
          build: v.buildId,
          status: v.status,
          pollers: v.pollers,
          running: Object.entries(v.running)
            .map(([type, n]) => `${type} ${n}`)
            .join(', '),
          replayCheck: v.replayCheck ? `${v.replayCheck.passed ? 'passed' : 'FAILED'} ${v.replayCheck.at}` : '-',
        })),
        ['build', 'status', 'pollers', 'running', 'replayCheck'],
      );
      const unversioned = Object.entries(status.unversioned);
      if (unversioned.length) console.log(`not on a build yet (or started before versioning): ${unversioned.map(([type, n]) => `${type} ${n}`).join(', ')}`);
    });

  deploy
    .command('set-current <build>')
    .description('Send all new work, and the registries, to <build>; refused without a passing `deploy check` of it')
    .option('--force', 'skip the replay-check requirement')
    .action(async (build: string, opts: { force?: boolean }) => {
      const c = ctx();
      const { previous, current } = await setCurrentBuild(await c.temporal(), c.config, build, { force: opts.force });
      console.log(
        previous === current
          ? `build ${current} is already current`
          : `build ${current} is current (was ${previous ?? 'none'}); workflows pinned to ${previous ?? 'earlier builds'} finish there`,
      );
    });

  deploy
    .command('ramp <build> <percent>')
    .description('Send <percent> % of new workflows to <build> (0-100; 0 stops), the rest to the current build')
    .option('--force', 'skip the replay-check requirement')
    .action(async (build: string, percent: string, opts: { force?: boolean }) => {
      const c = ctx();
      const share = /^\s*\d+(\.\d+)?\s*$/.test(percent) ? Number(percent) : Number.NaN;
      if (Number.isNaN(share)) throw new DeploymentRefused(`The ramp share must be a number from 0 to 100 (percent), not "${percent}"`);
      const ramped = await rampBuild(await c.temporal(), c.config, build, share, { force: opts.force });
      console.log(`build ${ramped.buildId} takes ${ramped.percentage}% of new workflows`);
    });

  deploy
    .command('rollback')
    .description('Make the build that was current before the current one current again, and stop any ramp')
    .action(async () => {
      const c = ctx();
      const { previous, current } = await rollbackBuild(await c.temporal(), c.config);
      console.log(`build ${current} is current again (was ${previous}); new work and the registries go to ${current}`);
    });

  deploy
    .command('check')
    .description("The CI gate: replay recorded histories and open workflows' histories against this build's workflow code; exit 1 naming each failing workflow")
    .option('--histories <path...>', 'recorded histories (JSON files, or folders of them) to replay too')
    .option('--open <which>', 'open workflows to replay: moving (not pinned: they follow the current build), all, none', 'moving')
    .option('--workflows <path>', "the workflow module to check (default: this installation's src/workflows)")
    .option('--build <id>', 'record the verdict on this build (default: MLOPS_BUILD_ID or the code hash the worker uses)')
    .option('--json', 'print as JSON')
    .action(async (opts: { histories?: string[]; open: string; workflows?: string; build?: string; json?: boolean }) => {
      if (!['moving', 'all', 'none'].includes(opts.open)) throw new Error(`--open must be moving, all or none, not "${opts.open}"`);
      const c = ctx();
      // Loaded on demand: the replay needs the worker SDK (native bridge, bundler), which other commands never load.
      const { runReplayCheck } = require('../../client/deploy-check') as typeof import('../../client/deploy-check');
      const result = await runReplayCheck(await c.temporal(), c.config, {
        historyDirs: opts.histories ?? [],
        open: opts.open as 'moving' | 'all' | 'none',
        workflowsPath: opts.workflows,
        buildId: opts.build,
      });
      if (result.failures.length) c.exitCode = EXIT.error;
      if (opts.json) return printJson(result);
      for (const f of result.failures) console.log(`FAIL ${f.workflowType} ${f.workflowId} (${f.source}): ${f.message.split('\n')[0]}`);
      console.log(`${result.failures.length ? 'replay check FAILED' : 'replay check passed'}: ${result.replayed} histories, ${result.failures.length} failing; ${result.recorded}`);
    });
}

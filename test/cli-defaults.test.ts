import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program';
import { defaultSourceOf } from '../src/cli/schema-defaults';

/** Defaults that belong to the CLI alone (no request field to come from), with the reason. */
const CLI_ONLY = new Set([
  'check --open', // which open workflows `mlops deploy check` replays: a choice of the gate, no request schema behind it
  'get --output', // a print format
  'retrain --reason', // the trigger's text, not the request's
  'report --port',
  'codec-server --ip',
  'codec-server --port',
  'codec-server --allow-origin', // local servers of the CLI itself
  'serve --host',
  'serve --port',
  'serve --poll-interval',
  'serve --body-limit',
  'serve --max-rows',
  'serve --range-margin',
  'serve --max-flagged-share',
  'serve --alert-window',
  'serve --log-flush-interval', // serving has no request schema yet
]);

function commands(c: Command): Command[] {
  return [c, ...c.commands.flatMap(commands)];
}

describe('CLI defaults', () => {
  const program = buildProgram(() => {
    throw new Error('no command runs here');
  });
  it('every defaulted flag takes its default from a schema (or is a CLI-only one), and --help shows that value', () => {
    let fromSchemas = 0;
    for (const command of commands(program)) {
      for (const option of command.options) {
        if (option.defaultValue === undefined || option.negate || typeof option.defaultValue === 'boolean') continue;
        const name = `${command.name()} ${option.long}`;
        const source = defaultSourceOf(option);
        if (!source) {
          expect(CLI_ONLY, `${name} has a hand-written default`).toContain(name);
          continue;
        }
        fromSchemas++;
        // zod applies the default itself for a missing value: the flag must show and send the same.
        const field = source.path.split('.').reduce<{ shape?: Record<string, unknown> } | undefined>((s, k) => {
          let o = s as unknown as { unwrap?: () => unknown; shape?: Record<string, unknown> };
          while (o && !o.shape && o.unwrap) o = o.unwrap() as typeof o;
          return o?.shape?.[k] as never;
        }, source.schema as never) as unknown as { parse?: (v: unknown) => unknown } | undefined;
        if (field?.parse) expect(option.defaultValue, name).toBe(String(field.parse(undefined)));
        // Help wraps long descriptions: read the option's entry up to the next flag.
        const help = command.helpInformation().replace(/\s+/g, ' ');
        const next = command.options[command.options.indexOf(option) + 1];
        const start = help.indexOf(`${option.flags} `);
        const entry = help.slice(start, next ? help.indexOf(`${next.flags} `, start + 1) : help.indexOf(' -h, --help', start));
        expect(entry, name).toContain(`(default: "${option.defaultValue as string}")`);
      }
    }
    expect(fromSchemas).toBeGreaterThanOrEqual(20);
  });
});

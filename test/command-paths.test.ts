import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withAbsoluteCommandPaths, withAbsoluteStrategyPaths } from '../src/training/command-paths';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-command-paths-'));
fs.mkdirSync(path.join(dir, 'examples', 'sklearn-trainer'), { recursive: true });
fs.writeFileSync(path.join(dir, 'examples', 'sklearn-trainer', 'train.py'), '');
fs.writeFileSync(path.join(dir, 'train.py'), '');
fs.writeFileSync(path.join(dir, 'python3'), '');
const command = (argv: string[]) => ({ kind: 'command' as const, command: argv, timeoutSeconds: 60, params: {} });

describe('trainer command paths', () => {
  it('resolves relative paths against the directory the command is given from', () => {
    expect(withAbsoluteCommandPaths(command(['python3', 'examples/sklearn-trainer/train.py']), dir).command).toEqual([
      'python3',
      path.join(dir, 'examples', 'sklearn-trainer', 'train.py'),
    ]);
    // A bare argument naming a file here is that file; a bare executable is looked up on PATH.
    expect(withAbsoluteCommandPaths(command(['python3', 'train.py', '--fast']), dir).command).toEqual(['python3', path.join(dir, 'train.py'), '--fast']);
    expect(withAbsoluteCommandPaths(command(['./examples/sklearn-trainer/train.py']), dir).command).toEqual([path.join(dir, 'examples', 'sklearn-trainer', 'train.py')]);
  });

  it('leaves absolute paths, options, words and shell code alone', () => {
    const argv = ['/usr/bin/python3', '-m', 'trainer', 'sh', 'head -c 2000 /dev/urandom > model.onnx', 'a/b;c'];
    expect(withAbsoluteCommandPaths(command(argv), dir).command).toEqual(argv);
    expect(withAbsoluteCommandPaths({ kind: 'gbdt', params: {} }, dir)).toEqual({ kind: 'gbdt', params: {} });
  });

  it('refuses a relative path that names nothing, saying to use an absolute one', () => {
    expect(() => withAbsoluteCommandPaths(command(['python3', 'examples/train.py']), dir)).toThrow(
      `Trainer command argument "examples/train.py" looks like a relative path, and nothing is at ${path.join(dir, 'examples', 'train.py')}.`,
    );
    expect(() => withAbsoluteCommandPaths(command(['python3', 'examples/train.py']), dir)).toThrow(/give an absolute path/);
  });

  it('applies to the trainers of retraining strategies', () => {
    expect(withAbsoluteStrategyPaths([{ seed: 1 }, { trainer: command(['python3', 'train.py']) }], dir)).toEqual([
      { seed: 1 },
      { trainer: command(['python3', path.join(dir, 'train.py')]) },
    ]);
  });
});

// Lint as Temporal's TypeScript samples do: no floating promises anywhere (an unawaited promise in
// a workflow is a lost step, in a client a lost error), and no Node built-ins or worker-side
// packages in workflow code, which runs in Temporal's deterministic sandbox. Formatting is prettier's.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_'));

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.mlops/**', 'examples/**', '**/*.cjs', '**/*.mjs'] },
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    // Workflow code and the API modules it imports (the import-graph test checks what they reach).
    files: ['src/workflows/**/*.ts', 'src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'].map((name) => ({
            name,
            message: 'Workflow code runs in the deterministic sandbox: do this in an activity (src/activities/) instead.',
          })),
          patterns: [{ group: ['node:*'], message: 'Workflow code runs in the deterministic sandbox: do this in an activity (src/activities/) instead.' }],
        },
      ],
    },
  },
);

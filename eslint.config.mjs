import js from '@eslint/js';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.dev/**', '.jasmin-venv/**', 'bench/results/**', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      'import-x/no-cycle': ['error', { maxDepth: 10, ignoreExternal: true }],
      // The arrows between folders. api and activities share dispatch/, never each other;
      // adapters translate between our types and a provider's wire and know nothing else;
      // a simulator is a second, independent reading of the provider, so sandbox/ and
      // adapters/ never load each other (their specs may: a spec tests one against the other).
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: import.meta.dirname,
          zones: [
            { target: './api', from: './activities', message: 'api/ reaches the engine through dispatch/, never activities/.' },
            { target: './dispatch', from: ['./api', './activities'], message: 'dispatch/ is shared by api/ and activities/: it imports neither.' },
            {
              target: './adapters',
              from: ['./db', './api', './activities'],
              message: 'adapters/ translate to and from a provider: no database, no HTTP app, no activities.',
            },
            { target: './adapters/**/!(*.spec).ts', from: './sandbox/**', message: 'adapters/ never load a simulator from sandbox/.' },
            { target: './sandbox/**/!(*.spec).ts', from: './adapters/**', message: 'sandbox/ reads the provider on its own: no adapters/.' },
          ],
        },
      ],
    },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
      'import-x/ignore': ['node_modules'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
  },
  {
    // Workflow code is replayed deterministically: no Node built-ins, no side-effecting
    // modules; only @temporalio/workflow, @temporalio/common, its own folder, the pure
    // lifecycle/ module and types.
    files: ['workflows/**/*.ts', 'observability/trace-workflow-interceptors.ts', 'observability/trace-header.ts'],
    ignores: ['workflows/**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code must be deterministic: no Node built-ins.' })),
          patterns: [
            {
              regex: '^(?!@temporalio/(workflow|common)$)(?!\\./)(?!\\.\\./lifecycle$)(?!\\.\\./(adapters|activities)(/types)?$)',
              message: 'Workflows import only @temporalio/workflow, @temporalio/common, their own folder, ../lifecycle and types.',
            },
            {
              regex: '^\\.\\./(adapters|activities)',
              allowTypeImports: true,
              message: 'Only type imports from outside workflows/.',
            },
          ],
        },
      ],
    },
  },
  {
    // Workflows, the database, the API and the adapters all load lifecycle/: it loads nothing.
    files: ['lifecycle/**/*.ts'],
    ignores: ['lifecycle/**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: '.*', message: 'lifecycle/ is pure TypeScript with no imports: workflow code loads it.' }] },
      ],
    },
  },
);

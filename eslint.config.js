import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const restrict = (patterns, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
});

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/out/**', '.tsbuild/**', '**/.lva-data/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  // The renderer runs in a browser: its globals, its own tsconfig (found by the project service), and no Node built-ins.
  {
    files: ['desktop/src/renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: restrict(['node:*', 'electron', '**/core/**', '**/cli/**', '**/server/**', '**/main/**'], 'the renderer reaches the core only over the RPC.'),
  },
  // Layers: shared depends on nothing of ours; the core never sees Electron; the relay never sees the desktop.
  { files: ['shared/**/*.ts'], rules: restrict(['@lva/desktop*', '@lva/relay*', '**/desktop/**', '**/relay/**'], 'shared/ imports nothing from desktop/ or relay/.') },
  { files: ['desktop/src/core/**/*.ts', 'desktop/src/cli/**/*.ts'], rules: restrict(['electron', '**/main/**', '**/preload/**', '**/renderer/**'], 'the core runs without Electron and without the UI.') },
  { files: ['relay/**/*.ts'], rules: restrict(['@lva/desktop*', '**/desktop/**'], 'the relay deploys without the desktop.') },
);

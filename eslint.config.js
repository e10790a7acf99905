import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'dist/', 'data/', '.bench-cache/', 'tests/.generated/', 'tests/probe.mts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unused-expressions': ['error', { allowTernary: true }],
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // dependencies point inward: core is pure and imported by everyone
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../ui/*', '../viewer/*', '../api/*', '**/tiles-server/**', 'lit', 'openseadragon'] }],
    },
  },
  {
    files: ['tiles-server/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['**/src/ui/**', '**/src/viewer/**', '**/src/api/**', 'lit', 'openseadragon'] }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/ui/**', 'src/main.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../ui/*', '**/ui/**'] }],
    },
  },
);

import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import layers from './eslint-rules/layers.js';

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
    // dependencies point inward: the whole layer matrix is in eslint-rules/layers.js
    files: ['src/**/*.ts', 'workers/**/*.ts', 'tiles-server/**/*.ts'],
    plugins: { layers },
    rules: { 'layers/direction': ['error', { root: import.meta.dirname }] },
  },
);

// Lint: typescript-eslint's type-aware recommended rules over every TypeScript file (src, bench,
// tools, web, test; tsconfig.test.json), plain recommended rules over the .mjs build tools. Run by
// `npm test` (npm run lint), so CI enforces it. Tests may handle untyped values (JSON.parse,
// page.evaluate, deliberately wrong arguments): the no-unsafe-* rules apply to the library only.
// types/ts5/*.d.ts (the TypeScript 5 entry points) are checked by the package test's tsc instead.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const node = Object.fromEntries(['process', 'console', 'URL', 'Buffer', 'setTimeout'].map((g) => [g, 'readonly']));

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'bench/results/**',
      '**/*.generated.ts',
      '.gpu/**',
      '**/*.d.mts',
      'types/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked.map((c) => ({ ...c, files: ['**/*.ts'] })),
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname } },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  { files: ['**/*.mjs', '**/*.cjs'], languageOptions: { globals: { ...node, require: 'readonly' } } },
);

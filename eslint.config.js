import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Import boundaries: the folder layout is the architecture (docs/design-notes.md). A role never
 * reaches into another role's folder, and the domain layer stays pure, so its rules can be read
 * and tested without a database, a broker or a file system. Type-only imports are allowed where
 * they carry no I/O (a bullmq option type, a node:net address type).
 */
const roles = ['ingest', 'workers', 'review-ui', 'device-simulator'];
const folderPattern = (folders, message) => ({ regex: `(^|/)(${folders.join('|')})/`, message });
const otherRoles = (role) =>
  folderPattern(
    roles.filter((other) => other !== role),
    `${role}/ must not import another role's folder: move what both need to core/domain or core/infrastructure.`,
  );
const ioModules = [
  'node:fs',
  'node:fs/promises',
  'node:child_process',
  'node:net',
  'node:http',
  'node:https',
  'node:dgram',
  'node:worker_threads',
  'ioredis',
  'pg',
  'bullmq',
  'mqtt',
  'fastify',
  'pino',
  'sharp',
  'fluent-ffmpeg',
  'drizzle-orm',
  '@electric-sql/pglite',
  '@aws-sdk/client-s3',
];
const boundaryRule = (patterns, ioPaths = [], otherPaths = []) => ({
  'no-restricted-imports': 'off',
  '@typescript-eslint/no-restricted-imports': [
    'error',
    {
      patterns: patterns.map((pattern) => ({ ...pattern, allowTypeImports: pattern.allowTypeImports ?? false })),
      paths: [
        ...ioPaths.map((name) => ({
          name,
          allowTypeImports: true,
          message: 'core/domain holds pure rules: I/O belongs in core/infrastructure, db/ or a role.',
        })),
        ...otherPaths,
      ],
    },
  ],
});
const boundaries = [
  {
    files: ['core/domain/**/*.ts'],
    rules: boundaryRule(
      [
        folderPattern(
          ['infrastructure', 'db', ...roles],
          'core/domain holds pure rules: it imports nothing but other domain files and pure libraries.',
        ),
      ],
      ioModules,
    ),
  },
  {
    files: ['core/infrastructure/**/*.ts', 'db/**/*.ts'],
    rules: boundaryRule([folderPattern(roles, 'Shared layers must not depend on a role: the role depends on them.')]),
  },
  ...roles.map((role) => ({ files: [`${role}/**/*.ts`], rules: boundaryRule([otherRoles(role)]) })),
  {
    // Routes and services of the review server reach the database through db/ repositories only.
    files: ['review-ui/**/*.ts'],
    rules: boundaryRule(
      [
        otherRoles('review-ui'),
        { regex: '(^|/)db/schema(\\.js)?$', message: 'Query through a db/ repository, not the schema.', allowTypeImports: true },
      ],
      [],
      [{ name: 'drizzle-orm', allowTypeImports: true, message: 'SQL belongs in a db/ repository; routes and services call it.' }],
    ),
  },
].map((config) => ({ ...config, ignores: [...(config.ignores ?? []), '**/*.test.ts'] }));

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'db/migrations/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'review-ui/app/*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      eqeqeq: ['error', 'always'],
      // Async functions that satisfy a promise-returning interface need not await anything.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  ...boundaries,
  {
    files: ['review-ui/app/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['review-ui/app/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);

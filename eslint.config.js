// Lint config: typescript-eslint's recommended rules; `any` is an error so public types stay explicit.
// layers/one-way keeps src/'s imports pointing down the layers (scripts/lint/layers.mjs, docs/architecture.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layersPlugin } from './scripts/lint/layers.mjs';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.stack/', 'stack/target/', 'bench/results/', 'coverage/', '.tools/', '.bench-build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { layers: layersPlugin },
    rules: { 'layers/one-way': 'error' },
  },
  {
    // kafkajs stays behind src/kafka: the rest uses its types (KafkaClient, FetchedBatch, SinkConsumer).
    files: ['src/**/*.ts'],
    ignores: ['src/kafka/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'kafkajs', message: 'kafkajs stays inside src/kafka: use the types of src/kafka/client.ts and src/kafka/consumer.ts (add what is missing there).' }] }] },
  },
);

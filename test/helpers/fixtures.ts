import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const fixture = (name: string) => join(FIXTURES, name);

/** Every expected-output case shipped in test/fixtures (copied from the shared reference set). */
export const CASES = [
  'ov1-ti16-224-d1',
  'ov1-ti16-336-d1',
  'ov1-ti8-160-d1',
  'ov1-so14-84-d2',
  'ov2-h14-224-d1',
  // OpenAI's layout (ln_pre, class-token pooling, QuickGELU, learned positions): the CLIP baselines
  'oai-b16-64-d2',
  'oai-l14-98-d1',
];

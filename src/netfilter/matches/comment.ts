/** `-m comment --comment TEXT`: always matches; the text is kept for evidence. */
import { defineMatch } from './define.js';

export default defineMatch({
  name: 'comment',
  options: ['comment'],
  compile() {
    // Comments carry no semantics; the canonical form leaves them out so renamed comments compare equal.
    return { test: () => true, canonical: '' };
  },
});

/** ACCEPT, DROP and RETURN: the plain verdicts. */
import type { Flow } from '../model.js';
import { defineTarget, type TargetModule } from './define.js';

function verdict(name: string, flow: Flow): TargetModule {
  return defineTarget({
    name,
    options: [],
    compile: () => ({ apply: () => flow, canonical: `-j ${name}` }),
  });
}

export const verdictTargets: TargetModule[] = [
  verdict('ACCEPT', { kind: 'accept' }),
  verdict('DROP', { kind: 'drop' }),
  verdict('RETURN', { kind: 'return' }),
];

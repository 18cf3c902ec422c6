/** Kubernetes semantics over a bundle's objects: label selectors, Services and their endpoints, NetworkPolicy. */
export * from './names.js';
export * from './networkpolicy.js';
export * from './objects.js';
export * from './selectors.js';
export * from './services.js';

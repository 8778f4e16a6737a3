/** The meta group: key hash and ranges, initial placement, and the meta state machine. */
export * from './hash.js';
export * from './placement.js';
export * from './meta-state.js';
export * from './planner.js';
export * from './meta-check.js';

export * from './errors.js';
export * from './constants.js';
export * from './types.js';
export * from './schemas.js';
export * from './codec.js';

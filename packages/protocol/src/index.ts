export * from './errors.js';
export * from './limits.js';
export * from './models.js';
export * from './frames.js';
export * from './mentions.js';
export * from './links.js';
export * from './markup.js';
export type * from './http.js';

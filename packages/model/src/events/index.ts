export * from './types.ts';
export * from './subjects.ts';

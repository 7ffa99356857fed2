export * from './types.ts';
export { validateCommand, decodeCommand, encodeCommand, makeCommand, isCommandType, observationProblem, MAX_COMMAND_BYTES, type CommandMeta } from './validate.ts';

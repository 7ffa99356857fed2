export { domxml, errorLine, explain, type DomxmlOptions, type Io } from './commands/domxml.ts';

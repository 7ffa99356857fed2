export { domxml, errorLine, type DomxmlOptions, type Io } from './commands/domxml.ts';

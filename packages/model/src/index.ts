export { VirtError, isVirtError, formatMessage, ERROR_CODES, type ErrorCode, type VirtErrorJSON } from './errors.ts';
export { readXml, DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, type ReadOptions } from './xml/read.ts';
export { writeXml } from './xml/write.ts';
export type { XmlElement, XmlNode } from './xml/tree.ts';
export type { Warning } from './codec/codec.ts';
export { parseDomain, parseDomainXML, parseDevice, parseDeviceXML, DEVICE_KINDS, type ParseOptions, type Parsed } from './domain/parse.ts';
export { formatDomainXML, formatDeviceXML } from './domain/format.ts';
export type * from './domain/types.ts';
export * from './caps/index.ts';

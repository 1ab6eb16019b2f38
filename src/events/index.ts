/** Public API of the event layer: type model, value conversion, Kafka record building. */
export * from './types.js';
export { BUILTIN_TYPES, builtinType } from './builtin-types.js';
export { TypeRegistry, type Queryable } from './type-registry.js';
export { convertValue, compileConverter, type TextConverter } from './convert/index.js';
export { eventsSpec, DEFAULT_CONVERT_OPTIONS, type EventsConfig, type ConvertOptions } from './config.js';

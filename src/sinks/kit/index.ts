/**
 * The sink kit: the machinery every sink needs around `write(batch)` and that the sinks used to
 * copy under their own names. Pure functions and small classes, no target client (and no I/O but the source catalog) — a sink
 * keeps what is specific to its target (request shapes, scripts, SQL) and takes the rest from here:
 *
 *   versions.ts    — a change's sink version (commit LSN, checked to fit a signed 64-bit integer),
 *                    staleness by commit position, the fixed-width version string (Redis / Lua)
 *   watermarks.ts  — truncate watermarks by position: raised by truncates, never lowered; a change
 *                    older than its table's watermark is stale
 *   toast.ts       — Debezium's unchanged-TOAST placeholder in every shape, and filling it from
 *                    the row's previous version
 *   collapse.ts    — last op per key within a batch, by version (offset order is not version order)
 *   errors.ts      — classification: HTTP status and network failures → retry / configuration /
 *                    reject; TLS certificate failures → a SinkError with the fix
 *   batching.ts    — splitting ordered items into requests bounded by count and bytes
 *   catalog.ts     — the source catalog (column types, attnums, ADD COLUMN … DEFAULT values) read
 *                    from Postgres: the one module here that does I/O, to the source only
 *
 * Invariants are written next to each function; docs/writing-a-sink.md shows them in use.
 */
export { MAX_VERSION, isStale, isStaleVersion, sinkVersion, versionString } from './versions.js';
export { TruncateWatermarks } from './watermarks.js';
export { fillToast, isUnchangedToast, previousToastValue, toastColumns } from './toast.js';
export { collapseLastPerKey, type Collapsed } from './collapse.js';
export { httpStatusClass, isTransientStatus, tlsFailure, type StatusClass } from './errors.js';
export { chunkBy, type ChunkLimits } from './batching.js';
export { catalogUrls, missingValueJson, postgresCatalog, type SourceCatalog, type SourceColumn, type SourceTable } from './catalog.js';

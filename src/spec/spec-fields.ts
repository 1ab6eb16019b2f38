/**
 * A config block often mixes the fields of several specs (a sink: the common runtime fields and its
 * plugin's; the source: its own and the events fields). Each spec parses only its own part, so
 * its strictness and refinements see exactly the fields it declares.
 *
 * A leaf module (no imports), so every layer can use it.
 */

/** The fields of `obj` that `spec` (a zod object) declares; undefined values are left out. */
export function specFields(obj: Readonly<Record<string, unknown>>, spec: { readonly shape: object }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(spec.shape)) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

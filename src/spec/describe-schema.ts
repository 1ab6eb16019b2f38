/** Small helpers to look inside zod 4 schemas (for did-you-mean and the config reference). */
import type { z } from 'zod';

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  values?: unknown[];
}

export function defOf(schema: z.ZodType): Def {
  return schema._zod.def as unknown as Def;
}

/** Strips optional/default/nullable/readonly/pipe(in) wrappers. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 16; i++) {
    const d = defOf(s);
    const inner = d.innerType ?? (d.type === 'pipe' ? d.in : undefined);
    if (!inner) return s;
    s = inner;
  }
  return s;
}

/** Picks the discriminated-union member matching `data[discriminator]`. */
function pickOption(schema: z.ZodType, data: unknown): z.ZodType | undefined {
  const d = defOf(schema);
  if (d.type !== 'union' || !d.options) return undefined;
  const disc = d.discriminator;
  if (!disc || !data || typeof data !== 'object') return undefined;
  const want = (data as Record<string, unknown>)[disc];
  return d.options.find((o) => {
    const field = shapeOf(o)?.[disc];
    if (!field) return false;
    const fd = defOf(unwrap(field));
    return Array.isArray(fd.values) && fd.values.includes(want);
  });
}

export function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const d = defOf(unwrap(schema));
  return d.type === 'object' ? d.shape : undefined;
}

/** The schema governing `path` inside `root`, following `data` through discriminated unions. */
export function schemaAt(root: z.ZodType, path: readonly (string | number)[], data: unknown): z.ZodType | undefined {
  let s: z.ZodType | undefined = unwrap(root);
  let value: unknown = data;
  for (const seg of path) {
    if (!s) return undefined;
    const picked = pickOption(s, value);
    if (picked) s = unwrap(picked);
    const d = defOf(s);
    if (typeof seg === 'number' && d.type === 'array' && d.element) s = unwrap(d.element);
    else if (typeof seg === 'string' && d.type === 'object' && d.shape) s = d.shape[seg] ? unwrap(d.shape[seg]) : undefined;
    else return undefined;
    value = value && typeof value === 'object' ? (value as Record<string | number, unknown>)[seg] : undefined;
  }
  if (s) {
    const picked = pickOption(s, value);
    if (picked) s = unwrap(picked);
  }
  return s;
}

/** Types of layers.mjs (plain JS so eslint.config.js loads it without a TypeScript loader). */
export interface Layer {
  readonly folders: readonly string[];
  readonly role: string;
}
export declare const LAYERS: readonly Layer[];
export declare function layerOf(folder: string): number | undefined;
export declare function importsOf(text: string): { spec: string; line: number }[];
export declare function resolveImport(file: string, spec: string): string;
export declare function edgeProblem(root: string, from: string, to: string): string | undefined;
export interface ImportEdge {
  readonly spec: string;
  readonly line: number;
  readonly to: string;
}
export declare function importGraph(root: string): Map<string, ImportEdge[]>;
export declare function cyclesOf(graph: ReadonlyMap<string, readonly ImportEdge[]>): string[][];
export interface LayerViolation {
  readonly file: string;
  readonly line: number;
  readonly spec: string;
  readonly problem: string;
}
export declare function checkLayers(root: string): { violations: LayerViolation[]; cycles: string[][] };
export declare const layersPlugin: { meta: { name: string }; rules: Record<string, unknown> };

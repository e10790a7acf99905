/** Types of eslint-rules/layers.js, for the test that checks the matrix. */
import type { Rule } from 'eslint';

export declare const LAYERS: ReadonlyArray<{ name: string; paths: string[] }>;
export declare const MAY_IMPORT: Record<string, string[]>;
export declare const MAY_IMPORT_TYPES: Record<string, string[]>;
export declare const BANNED_PACKAGES: Record<string, string[]>;
export declare function layerOf(relPath: string): string | null;
export declare function forbidden(from: string, to: string, typeOnly: boolean): string | null;
export declare const layersRule: Rule.RuleModule;
declare const plugin: { rules: { direction: Rule.RuleModule } };
export default plugin;

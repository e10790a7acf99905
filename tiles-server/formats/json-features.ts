/**
 * Streams the features out of a GeoJSON document without holding the whole
 * file: a byte-level scanner finds each feature object (in a
 * FeatureCollection's "features" array, or in a top-level array) and hands
 * its text to JSON.parse. Memory stays at one feature; a 500 MB export of a
 * million cells parses in constant space. Errors carry line numbers, and
 * nesting deeper than MAX_NESTING is refused where it happens.
 */
import { MAX_NESTING } from './nesting.js';
import { FormatError } from './types.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

export interface ScannedFeature {
  index: number;
  line: number;
  value: unknown;
}

export class FeatureScanner {
  private mode: 'start' | 'object' | 'array' | 'done' = 'start';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private line = 1;
  /** Depth at which feature objects sit (1 in a top-level array, 2 inside "features"); -1 outside. */
  private featureDepth = -1;
  private capture: Buffer[] | null = null;
  private captureLine = 1;
  private index = 0;
  /** Strings of the top-level object (keys, and the value of "type"). */
  private str: number[] | null = null;
  private afterColon = false;
  private lastKey = '';
  private topType: string | undefined;
  private sawFeatures = false;

  constructor(private readonly onFeature: (f: ScannedFeature) => void) {}

  push(chunk: Buffer): void {
    let from = this.capture ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (b === NEWLINE) this.line++;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) {
          this.inString = false;
          if (this.str) {
            const s = Buffer.from(this.str).toString('utf8');
            this.str = null;
            if (!this.afterColon) this.lastKey = s;
            else if (this.lastKey === 'type') this.topType = s;
          }
          continue;
        }
        if (this.str && this.str.length < 256) this.str.push(b);
        continue;
      }
      if (b === 0x20 || b === 0x09 || b === 0x0d || b === NEWLINE) continue;
      switch (this.mode) {
        case 'done':
          throw new FormatError('unexpected content after the end of the JSON document', `line ${this.line}`);
        case 'start':
          if (b === 0xef || b === 0xbb || b === 0xbf) continue; // UTF-8 byte-order mark
          if (b === LBRACE) this.mode = 'object';
          else if (b === LBRACKET) {
            this.mode = 'array';
            this.featureDepth = 1;
          } else throw new FormatError('a GeoJSON file starts with { or [', `line ${this.line}`);
          this.depth = 1;
          continue;
      }
      const top = this.mode === 'object' && this.depth === 1;
      if (b === QUOTE) {
        this.inString = true;
        if (top) this.str = [];
        if (this.depth === this.featureDepth) throw new FormatError(`feature ${this.index} is not an object`, `line ${this.line}`);
        continue;
      }
      if (top && b === COLON) {
        this.afterColon = true;
        continue;
      }
      if (top && b === COMMA) {
        this.afterColon = false;
        continue;
      }
      if (b === LBRACE || b === LBRACKET) {
        if (top && b === LBRACKET && this.afterColon && this.lastKey === 'features') {
          this.featureDepth = 2;
          this.sawFeatures = true;
        } else if (this.depth === this.featureDepth) {
          if (b !== LBRACE) throw new FormatError(`feature ${this.index} is not an object`, `line ${this.line}`);
          this.capture = [];
          this.captureLine = this.line;
          from = i;
        }
        if (++this.depth > MAX_NESTING) throw new FormatError(`the JSON is nested more than ${MAX_NESTING} levels deep${this.capture ? ` (in feature ${this.index})` : ''}`, `line ${this.line}`);
        continue;
      }
      if (b === RBRACE || b === RBRACKET) {
        this.depth--;
        if (this.capture && this.depth === this.featureDepth) {
          this.capture.push(chunk.subarray(from, i + 1));
          from = -1;
          this.emit();
        } else if (this.featureDepth === 2 && this.depth === 1) {
          this.featureDepth = -1; // end of "features"
        }
        if (this.depth === 0) this.mode = 'done';
        continue;
      }
      if (this.depth === this.featureDepth && b !== COMMA) throw new FormatError(`feature ${this.index} is not an object`, `line ${this.line}`);
    }
    if (this.capture && from >= 0) this.capture.push(chunk.subarray(from));
  }

  private emit(): void {
    const text = Buffer.concat(this.capture as Buffer[]).toString('utf8');
    this.capture = null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const m = /position (\d+)/.exec((err as Error).message);
      const line = this.captureLine + (m ? (text.slice(0, Number(m[1])).match(/\n/g)?.length ?? 0) : 0);
      throw new FormatError(`invalid JSON in feature ${this.index}: ${(err as Error).message.split('\n')[0] ?? ''}`, `line ${line}`);
    }
    this.onFeature({ index: this.index, line: this.captureLine, value });
    this.index++;
  }

  /** Checks the document ended properly; returns its top-level type and feature count. */
  end(): { type: string | undefined; features: number } {
    if (this.mode === 'start') throw new FormatError('the file is empty', 'file');
    if (this.inString || this.mode !== 'done') throw new FormatError('the file ends before the JSON document does', `line ${this.line}`);
    if (this.featureDepth !== 1 && !this.sawFeatures) {
      const what = this.topType === 'Feature' ? 'a single Feature: wrap it in a FeatureCollection' : 'no "features" array';
      throw new FormatError(`the document has ${what} (expected a FeatureCollection or an array of features)`, 'file');
    }
    return { type: this.topType, features: this.index };
  }
}

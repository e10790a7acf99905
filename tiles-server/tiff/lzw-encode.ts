/**
 * TIFF LZW encoder (MSB-first, 9–12 bit codes, early change), used to write
 * LZW label images and test fixtures.
 */
export function lzwEncode(input: Uint8Array): Uint8Array {
  const CLEAR = 256;
  const EOI = 257;
  const out: number[] = [];
  let bitBuf = 0;
  let bitCount = 0;
  let width = 9;
  const emit = (code: number): void => {
    bitBuf = (bitBuf << width) | code;
    bitCount += width;
    while (bitCount >= 8) {
      out.push((bitBuf >>> (bitCount - 8)) & 0xff);
      bitCount -= 8;
    }
    bitBuf &= (1 << bitCount) - 1;
  };
  let dict = new Map<number, number>();
  let next = 258;
  emit(CLEAR);
  if (input.length === 0) {
    emit(EOI);
  } else {
    let w = input[0] as number;
    for (let i = 1; i < input.length; i++) {
      const c = input[i] as number;
      const key = w * 256 + c;
      const found = dict.get(key);
      if (found !== undefined) {
        w = found;
        continue;
      }
      emit(w);
      dict.set(key, next++);
      // the decoder adds this entry one code later and widens at 2^n - 1
      if (next >= 1 << width && width < 12) width++;
      if (next >= 4094) {
        emit(CLEAR);
        dict = new Map();
        next = 258;
        width = 9;
      }
      w = c;
    }
    emit(w);
    if (next + 1 >= 1 << width && width < 12) width++;
    emit(EOI);
  }
  if (bitCount > 0) out.push((bitBuf << (8 - bitCount)) & 0xff);
  return Uint8Array.from(out);
}

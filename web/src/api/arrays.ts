import type { EncodedArray } from "./types";

export type NumericArray = Float32Array | Int32Array | Uint8Array | Uint16Array;

function base64ToBytes(b64: string): Uint8Array {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function bytesPerElement(dtype: EncodedArray["dtype"]): number {
  switch (dtype) {
    case "float32":
    case "int32":
      return 4;
    case "uint16":
      return 2;
    case "uint8":
      return 1;
  }
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Decodes a little-endian base64 array from the API into a typed array. */
export function decodeArray(encoded: EncodedArray): NumericArray {
  const bytes = base64ToBytes(encoded.data);
  const size = bytesPerElement(encoded.dtype);
  const count = encoded.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * size) {
    throw new Error(
      `array of shape [${encoded.shape.join(", ")}] and dtype ${encoded.dtype} needs ` +
        `${count * size} bytes, got ${bytes.length}`,
    );
  }
  if (!littleEndianHost && size > 1) {
    const view = new DataView(bytes.buffer);
    if (encoded.dtype === "float32") {
      return Float32Array.from({ length: count }, (_, i) => view.getFloat32(i * 4, true));
    }
    if (encoded.dtype === "int32") {
      return Int32Array.from({ length: count }, (_, i) => view.getInt32(i * 4, true));
    }
    return Uint16Array.from({ length: count }, (_, i) => view.getUint16(i * 2, true));
  }
  switch (encoded.dtype) {
    case "float32":
      return new Float32Array(bytes.buffer, 0, count);
    case "int32":
      return new Int32Array(bytes.buffer, 0, count);
    case "uint16":
      return new Uint16Array(bytes.buffer, 0, count);
    case "uint8":
      return bytes;
  }
}

/** Accepts either a plain JSON list or an encoded array and returns numbers. */
export function toIntArray(value: number[] | EncodedArray): Int32Array {
  if (Array.isArray(value)) return Int32Array.from(value);
  return Int32Array.from(decodeArray(value));
}

/** Accepts either a plain JSON list or an encoded array and returns plain numbers. */
export function toNumbers(value: number[] | EncodedArray): number[] {
  if (Array.isArray(value)) return value;
  return Array.from(decodeArray(value));
}

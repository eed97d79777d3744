// A protobuf writer of the few wire types the ONNX schema uses: varints (ints, enums), 32-bit
// floats, and length-delimited fields (strings, bytes, nested messages). Written here rather than
// taken from npm: the schema libraries (protobufjs and ONNX bindings built on it) would add a
// dependency of several hundred KiB, with code generation, to a module that runs in browsers, for
// ~60 lines of encoding. Fields are written in the order given; repeated fields are unpacked,
// which every protobuf reader accepts.

/** A message under construction: fields appended in order. */
export class ProtoWriter {
  #parts: Uint8Array[] = [];
  #length = 0;

  #push(bytes: Uint8Array): this {
    this.#parts.push(bytes);
    this.#length += bytes.length;
    return this;
  }

  #tag(field: number, wire: number): this {
    return this.#varint(field * 8 + wire);
  }

  #varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      const byte = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v ? byte | 0x80 : byte);
    } while (v);
    return this.#push(Uint8Array.from(out));
  }

  /** A varint field (int32, int64, enum, bool); negative numbers as 64-bit two's complement. */
  int(field: number, value: number): this {
    return this.#tag(field, 0).#varint(value);
  }

  /** A 32-bit float field. */
  float(field: number, value: number): this {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    return this.#tag(field, 5).#push(bytes);
  }

  /** A bytes field. */
  bytes(field: number, value: Uint8Array): this {
    return this.#tag(field, 2).#varint(value.length).#push(value);
  }

  /** A string field (UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** A nested message field. */
  message(field: number, message: ProtoWriter): this {
    return this.bytes(field, message.finish());
  }

  /** The message's bytes. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

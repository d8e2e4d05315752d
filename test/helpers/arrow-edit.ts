/** Damaging Arrow IPC files the way a broken writer or an attacker would: a batch's message re-encoded with other numbers, in place. */
import { readFileSync, writeFileSync } from 'node:fs';
import { Message } from 'apache-arrow';
import { ArrowFile } from '../../src/data/arrow-read.js';

export interface EditableHeader {
  length: number;
  /** The body's codec number, when it is compressed. */
  codec: number | null;
  nodes: { length: number; nullCount: number }[];
  buffers: { offset: number; length: number }[];
}

type Ctor = new (...args: unknown[]) => unknown;

/**
 * Rewrite record batch `i`'s message with `edit` applied to its length, nodes and buffer
 * regions, keeping its place in the file (the new message must fit the old block).
 */
export async function editBatch(path: string, i: number, edit: (h: EditableHeader) => void): Promise<void> {
  const file = await ArrowFile.open(path);
  const b = file.batches[i]!;
  file.close();
  const bytes = readFileSync(path);
  const skip = bytes.readInt32LE(b.offset) === -1 ? 8 : 4;
  const m = Message.decode(bytes.subarray(b.offset + skip, b.offset + skip + bytes.readInt32LE(b.offset + skip - 4)));
  if (!m.isRecordBatch()) throw new Error(`block ${i} is not a record batch`);
  const h = m.header();
  const e: EditableHeader = {
    length: Number(h.length),
    codec: h.compression ? h.compression.type : null,
    nodes: h.nodes.map((n) => ({ length: Number(n.length), nullCount: Number(n.nullCount) })),
    buffers: h.buffers.map((r) => ({ offset: Number(r.offset), length: Number(r.length) })),
  };
  edit(e);
  const RB = h.constructor as Ctor;
  const Node = h.nodes[0]!.constructor as Ctor;
  const Region = h.buffers[0]!.constructor as Ctor;
  const header = new RB(
    e.length,
    e.nodes.map((n) => new Node(n.length, n.nullCount)),
    e.buffers.map((r) => new Region(r.offset, r.length)),
    h.compression && e.codec !== null ? new (h.compression.constructor as Ctor)(e.codec, h.compression.method) : h.compression,
    h.variadicBufferCounts,
  );
  const fb = Message.encode(Message.from(header as never, m.bodyLength));
  if (skip + fb.length > b.metaDataLength) throw new Error(`edited message of ${fb.length} bytes does not fit the block's ${b.metaDataLength}`);
  bytes.writeInt32LE(b.metaDataLength - skip, b.offset + skip - 4);
  bytes.fill(0, b.offset + skip, b.offset + b.metaDataLength);
  bytes.set(fb, b.offset + skip);
  writeFileSync(path, bytes);
}

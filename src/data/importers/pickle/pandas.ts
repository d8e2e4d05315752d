/**
 * The pandas objects a pickled DataFrame is made of, rebuilt as plain records: the frame
 * holds a BlockManager; the manager holds two axes (column labels, row index) and blocks,
 * each a 2-D numpy array (columns x rows) plus the column positions it fills. Both
 * manager layouts are read: NEWOBJ + BUILD with the '0.14.1' state (pandas 0.2x-1.2, as
 * PaddleRec's files have it) and BlockManager(blocks, axes) + _unpickle_block (later).
 */
import { NdArray } from './numpy.js';
import { PyList } from './list.js';
import { PickleError, PyDict, expectTuple, isSlice, typeName, type Buildable, type PyCallable, type PySlice } from './values.js';

export interface Block {
  values: NdArray;
  placement: PySlice | NdArray;
}

export class PandasIndex {
  readonly typeName: string;
  range: { start: number; stop: number; step: number } | null = null;
  data: NdArray | null = null;

  constructor(readonly cls: string) {
    this.typeName = cls;
  }

  get length(): number {
    if (this.range) {
      const { start, stop, step } = this.range;
      return Math.max(0, Math.ceil((stop - start) / step));
    }
    const d = this.data!;
    if (d.shape.length !== 1) throw new PickleError(`${this.cls} data has ${d.shape.length} dimensions`);
    return d.shape[0]!;
  }
}

export class BlockManager implements Buildable {
  readonly typeName = 'pandas BlockManager';
  axes: unknown[] = [];
  blocks: Block[] = [];

  /** The pre-2.x state: (axes, block values, block items, {'0.14.1': {axes, blocks: [{values, mgr_locs}]}}). */
  setState(state: unknown): void {
    const s = expectTuple(state, 'BlockManager state');
    const extra = s[3];
    const v = extra instanceof PyDict ? extra.get('0.14.1') : undefined;
    if (!(v instanceof PyDict)) throw new PickleError('BlockManager state is not the 0.14.1 layout (pandas pickles older than 0.14.1 are not supported)');
    this.axes = sequence(v.get('axes'), 'BlockManager axes');
    this.blocks = sequence(v.get('blocks'), 'BlockManager blocks').map((b, i) => {
      if (!(b instanceof PyDict)) throw new PickleError(`BlockManager block ${i} is a ${typeName(b)}, expected a dict`);
      return block(b.get('values'), b.get('mgr_locs'), i);
    });
  }
}

export class DataFrame implements Buildable {
  readonly typeName = 'pandas DataFrame';
  mgr: unknown = null;

  setState(state: unknown): void {
    if (!(state instanceof PyDict)) throw new PickleError(`DataFrame state is a ${typeName(state)}, expected a dict`);
    // pandas >= 1.1 names the manager _mgr; earlier versions _data.
    this.mgr = state.has('_mgr') ? state.get('_mgr') : state.get('_data');
  }
}

function sequence(x: unknown, what: string): unknown[] {
  if (x instanceof PyList) return x.toArray();
  if (Array.isArray(x)) return x;
  throw new PickleError(`${what} must be a list or tuple, found ${typeName(x)}`);
}

function block(values: unknown, placement: unknown, i: number): Block {
  if (!(values instanceof NdArray)) throw new PickleError(`block ${i} values are a ${typeName(values)}, expected a numpy array`);
  if (!isSlice(placement) && !(placement instanceof NdArray)) {
    throw new PickleError(`block ${i} placement is a ${typeName(placement)}, expected a slice or an int array`);
  }
  return { values, placement };
}

export const DATAFRAME: PyCallable = {
  qualName: 'pandas.core.frame.DataFrame',
  newObj: () => new DataFrame(),
};

export const BLOCK_MANAGER: PyCallable = {
  qualName: 'pandas.core.internals.managers.BlockManager',
  newObj: () => new BlockManager(),
  call(args) {
    if (args.length !== 2) throw new PickleError(`BlockManager() takes (blocks, axes), got ${args.length} arguments`);
    const m = new BlockManager();
    m.blocks = sequence(args[0], 'BlockManager blocks').map((b, i) => {
      if (!isBlock(b)) throw new PickleError(`BlockManager block ${i} is a ${typeName(b)}`);
      return b;
    });
    m.axes = sequence(args[1], 'BlockManager axes');
    return m;
  },
};

function isBlock(x: unknown): x is Block {
  return typeof x === 'object' && x !== null && (x as Partial<Block>).values instanceof NdArray && 'placement' in x;
}

export const UNPICKLE_BLOCK: PyCallable = {
  qualName: 'pandas._libs.internals._unpickle_block',
  call(args) {
    const [values, placement, ndim] = args;
    if (ndim !== 2) throw new PickleError(`a block of ${String(ndim)} dimensions: only DataFrame blocks (2) are supported`);
    return block(values, placement, 0);
  },
};

/** Index classes by every module path pandas 0.2x-2.x pickles them under. */
export const INDEX_CLASSES: [string, PyCallable][] = (
  [
    ['pandas.core.indexes.base', 'Index'],
    ['pandas.core.indexes.numeric', 'Int64Index'],
    ['pandas.core.indexes.numeric', 'UInt64Index'],
    ['pandas.core.indexes.numeric', 'Float64Index'],
    ['pandas.core.indexes.numeric', 'NumericIndex'],
    ['pandas.core.indexes.range', 'RangeIndex'],
  ] as const
).map(([module, cls]) => [`${module}.${cls}`, { qualName: cls }]);

function rangeBound(d: PyDict, key: string, fallback: number | null): number {
  const v = d.has(key) ? d.get(key) : d.get(`_${key}`);
  if (v === undefined || v === null) {
    if (fallback === null) throw new PickleError(`RangeIndex without ${key}`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new PickleError(`RangeIndex ${key} is a ${typeName(v)}`);
  return v;
}

/** `_new_Index(cls, d)`: d holds `data` (a numpy array) or, for RangeIndex, start/stop/step. */
export const NEW_INDEX: PyCallable = {
  qualName: 'pandas.core.indexes.base._new_Index',
  call(args) {
    const [cls, d] = args;
    const known = INDEX_CLASSES.find(([, c]) => c === cls);
    if (!known) throw new PickleError(`_new_Index of ${typeName(cls)}`);
    if (!(d instanceof PyDict)) throw new PickleError(`_new_Index state is a ${typeName(d)}`);
    const idx = new PandasIndex(known[1].qualName);
    if (idx.cls === 'RangeIndex') {
      const step = rangeBound(d, 'step', 1);
      if (step === 0) throw new PickleError('RangeIndex step is 0');
      idx.range = { start: rangeBound(d, 'start', 0), stop: rangeBound(d, 'stop', null), step };
    } else {
      const data = d.get('data');
      if (!(data instanceof NdArray)) throw new PickleError(`${idx.cls} data is a ${typeName(data)}, expected a numpy array`);
      idx.data = data;
    }
    return idx;
  },
};
